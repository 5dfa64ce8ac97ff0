/**
 * npm run bench: a no-op `localhost-ops sync` (a fresh process, as the sync job runs it)
 * against the seed's shell script doing the same checks on the same mirror. Prints both
 * medians and the ratio (goal ≤ 0.8), and which programs a no-op sync starts (via strace).
 */
import { join } from 'node:path';
import { createFixture, BIN, ROOT } from '../test/helpers/fixture.js';
import { run } from '../src/os/exec.js';
import { findOnPath } from '../src/os/fs.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 25);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

async function time(file: string, args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const start = process.hrtime.bigint();
  await run(file, args, { env, cwd: ROOT });
  return Number(process.hrtime.bigint() - start) / 1e6;
}

const fx = await createFixture('bench');
try {
  const install = await fx.cli(fx.installArgs());
  if (install.code !== 0) throw new Error(`install failed: ${install.stderr}`);
  await fx.waitForSyncs(2);
  // NODE_EXTRA_CA_CERTS adds ~80 ms to every Node start; both sides run without it.
  const env = { ...fx.env };
  delete env.NODE_EXTRA_CA_CERTS;
  const seedArgs = [
    join(ROOT, 'bench', 'seed-sync.sh'),
    fx.canonical,
    fx.worktree,
    String(fx.port),
    join(fx.root, 'seed-last-sync.env'),
  ];
  const toolArgs = [BIN, 'sync', '--name', 'site'];
  const tool: number[] = [];
  const seed: number[] = [];
  for (let i = 0; i < 3; i++) {
    await time(process.execPath, toolArgs, env);
    await time('bash', seedArgs, env);
  }
  for (let i = 0; i < RUNS; i++) {
    tool.push(await time(process.execPath, toolArgs, env));
    seed.push(await time('bash', seedArgs, env));
  }
  const status = fx.record()?.status;
  if (status !== 'noop') throw new Error(`expected noop syncs, the last one was ${status}`);
  const t = median(tool);
  const s = median(seed);
  console.log(`runs:                          ${RUNS} each, interleaved, NODE_EXTRA_CA_CERTS unset`);
  console.log(`noop localhost-ops sync:       median ${t.toFixed(1)} ms (min ${Math.min(...tool).toFixed(1)})`);
  console.log(`seed shell script:             median ${s.toFixed(1)} ms (min ${Math.min(...seed).toFixed(1)})`);
  console.log(`ratio tool/seed:               ${(t / s).toFixed(2)} (goal <= 0.80)`);

  // An update: how long after `sync` starts is a pushed commit served?
  const served: number[] = [];
  for (let i = 0; i < 5; i++) {
    const text = `update ${i}`;
    await fx.push({ 'content.txt': `${text}\n` });
    const start = Date.now();
    await run(process.execPath, toolArgs, { env, cwd: ROOT });
    if ((await fx.get()).body !== `site says: ${text}\n`) throw new Error('the pushed commit is not served after sync');
    served.push(Date.now() - start);
  }
  console.log(
    `pushed commit served after:    median ${median(served).toFixed(0)} ms from sync start (max ${Math.max(...served)}; goal < 5000)`,
  );

  if (findOnPath('strace')) {
    // The first sync after the updates changes status (updated → noop) and so writes
    // last-diagnosis.txt; the steady state is the one after it.
    await run(process.execPath, toolArgs, { env, cwd: ROOT });
    const trace = join(fx.root, 'trace');
    await run('strace', ['-f', '-qq', '-e', 'trace=execve', '-o', trace, process.execPath, ...toolArgs], {
      env,
      cwd: ROOT,
    });
    const text = (await import('node:fs')).readFileSync(trace, 'utf8');
    // Only the execve calls that succeeded: a PATH search tries several folders first.
    const execs = [...text.matchAll(/execve\("([^"]+)", \[([^\]]*)\][^\n]*= 0$/gm)].map((m) => {
      const argv = m[2]
        .split(', ')
        .slice(1)
        .map((a) => a.replace(/^"|"$/g, ''));
      const sub = argv.filter((a, i) => !a.startsWith('-') && argv[i - 1] !== '-c')[0] ?? '';
      return `${m[1].split('/').pop()} ${sub}`.trim();
    });
    console.log(`programs a noop sync starts:   ${execs.length} → ${execs.join(' | ')}`);
    const extra = execs.slice(1).filter((e) => /^(node|npm|npx)\b/.test(e));
    console.log(`npm or node children:          ${extra.length}`);
  } else {
    console.log('programs a noop sync starts:   (install strace to count them)');
  }
} finally {
  await fx.cleanup();
}
