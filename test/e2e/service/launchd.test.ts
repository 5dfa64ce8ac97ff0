/**
 * The launchd backend (issue 3), on Linux: the real CLI drives the launchctl stand-in
 * (test/helpers/bin/launchctl), which runs the plists the way launchd would.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import {
  appendFileSync,
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, isAbsolute, join } from 'node:path';
import { parse } from 'plist';
import { run, isAlive } from '../../../src/os/exec.js';
import { getJobSpecs, type JobSpec } from '../../../src/service/jobs.js';
import { parseTemplate, readTemplate, renderAgent, renderAgentText } from '../../../src/service/launchd/plist.js';
import { getAgentPath, parsePrint } from '../../../src/service/launchd/index.js';
import { getSitePaths } from '../../../src/site/paths.js';
import type { Site, SiteConfig } from '../../../src/site/config.js';
import { BIN, Fixture, createFixture, findProcessesUnder, waitFor, withTimeout } from '../../helpers/fixture.js';
import {
  UID,
  changingCalls,
  launchctl,
  readCalls,
  readRunState,
  standinEnv,
  stopStandin,
} from '../../helpers/launchctl-standin.js';

type Dict = Record<string, unknown>;

/** Python's plistlib as a second opinion on what the plist package reads. */
async function readWithPython(path: string): Promise<Dict> {
  const script =
    'import json, plistlib, sys\nwith open(sys.argv[1], "rb") as f:\n    print(json.dumps(plistlib.load(f)))';
  return JSON.parse((await run('python3', ['-c', script, path], { timeoutMs: 30_000 })).stdout) as Dict;
}

function readPlist(path: string): Dict {
  return parse(readFileSync(path, 'utf8')) as Dict;
}

/** Just what getJobSpecs reads of a site, with the job context install would record. */
function siteFor(
  opsHome: string,
  name = 'site',
  interval = 3600,
  env: Record<string, string> = { HOME: '/Users/me' },
  tool = '/opt/localhost-ops',
  pinnedBinDir = '/opt/node@22/bin',
): Site {
  const jobs = {
    node: '/usr/local/bin/node',
    entry: join(tool, 'bin', 'localhost-ops.js'),
    pinnedBinDir,
    pathDirs: ['/usr/local/bin', '/usr/bin'],
    env,
  };
  const config = { name, interval, service: 'launchd', jobs } as SiteConfig;
  return { name, config, paths: getSitePaths(name, opsHome) };
}

// ---------------------------------------------------------------- pure rendering

const render = suite('launchd: rendering');

const AWKWARD = join(tmpdir(), `we ird & <dir> "quoted" 'single' ünïcødé 日本`);

render(
  'paths with spaces, &, <, quotes and non-ASCII survive the round trip (plist and plistlib)',
  withTimeout(30_000, async () => {
    const root = mkdtempSync(join(tmpdir(), 'lops-render-'));
    try {
      const site = siteFor(
        join(AWKWARD, 'ops-local'),
        'site',
        3600,
        { HOME: AWKWARD, LOCALHOST_OPS_HOME: join(AWKWARD, 'ops-local') },
        join(AWKWARD, 'tool'),
        `${AWKWARD}/node/bin`,
      );
      const specs = getJobSpecs(site);
      for (const spec of specs) {
        const text = renderAgentText(spec);
        assert.ok(text.endsWith('</plist>\n'), 'ends with a newline');
        assert.ok(text.includes('&amp;') && text.includes('&lt;'), 'escaped, not pasted');
        const file = join(root, `${spec.label}.plist`);
        writeFileSync(file, text);
        const ours = readPlist(file);
        assert.equal(await readWithPython(file), ours, 'plistlib reads what plist reads');
        assert.is(ours.Label, spec.label);
        assert.equal(ours.ProgramArguments, spec.programArguments);
        assert.is(ours.WorkingDirectory, spec.workingDirectory);
        assert.equal(ours.EnvironmentVariables, spec.environment);
        assert.is((ours.EnvironmentVariables as Dict).HOME, AWKWARD);
        assert.is(ours.StandardOutPath, join(AWKWARD, 'ops-local', 'site', 'logs', `launchd-${spec.kind}.log`));
        assert.is(ours.StandardErrorPath, spec.stderrPath);
      }
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  }),
);

render('sync and server agents carry their own keys, in the template order', () => {
  const [sync, server] = getJobSpecs(siteFor('/tmp/x', 'site', 120));
  const s = renderAgent(sync, parseTemplate(readTemplate('sync')));
  assert.is(s.StartInterval, 120);
  assert.is(s.ProcessType, 'Background');
  assert.is(s.RunAtLoad, true);
  assert.not.ok('KeepAlive' in s);
  assert.is(Object.keys(s)[0], 'Label');
  const v = renderAgent(server, parseTemplate(readTemplate('server')));
  assert.equal(v.KeepAlive, { SuccessfulExit: false });
  assert.is(v.ProcessType, 'Interactive');
  assert.is(v.RunAtLoad, true);
  assert.ok(Number.isInteger(v.ThrottleInterval) && (v.ThrottleInterval as number) > 0);
  assert.ok(Number.isInteger(v.ExitTimeOut) && (v.ExitTimeOut as number) >= 10, 'time to free the port');
  assert.not.ok('StartInterval' in v);
  // The same spec renders the same bytes: what "unchanged" rests on.
  assert.is(renderAgentText(server), renderAgentText(server));
});

render('job specs come from the recorded context, not from whoever runs the sync', () => {
  const site = siteFor('/tmp/x');
  const before = getJobSpecs(site);
  const saved = { ...process.env };
  try {
    process.env.LOCALHOST_OPS_HOME = '/somewhere/else';
    process.env.PATH = '/another/shell/bin';
    assert.equal(getJobSpecs(site), before);
  } finally {
    process.env = saved;
  }
  for (const spec of before) {
    assert.is(spec.environment.PATH.split(':')[0], '/opt/node@22/bin', 'the pinned Node comes first');
    assert.equal(spec.programArguments.slice(0, 2), ['/usr/local/bin/node', '/opt/localhost-ops/bin/localhost-ops.js']);
    assert.not.ok('LOCALHOST_OPS_HOME' in spec.environment);
  }
});

render('a control character is refused with the value named', () => {
  const [sync] = getJobSpecs(siteFor('/tmp/a\nb'));
  assert.throws(() => renderAgentText(sync), /control character/);
});

render('parsePrint reads only state, pid and last exit code at the service level', () => {
  const text = [
    'gui/501/localhost-ops.site.server = {',
    '\tactive count = 1',
    '\tpath = /Users/me/Library/LaunchAgents/localhost-ops.site.server.plist',
    '\tstate = running',
    '\tevent triggers = {',
    '\t\tstate = inactive',
    '\t}',
    '\truns = 3',
    '\tpid = 4242',
    '\tlast exit code = 78: EX_CONFIG',
    '}',
  ].join('\n');
  assert.equal(parsePrint(text), { state: 'running', pid: 4242, lastExit: 78 });
  assert.equal(parsePrint('x = {\n\tstate = not running\n\tlast exit code = (never exited)\n}\n'), {
    state: 'not running',
    pid: null,
    lastExit: null,
  });
  assert.equal(
    parsePrint('x = {\n    state = running\n    pid = 7\n}\n'),
    { state: 'running', pid: 7, lastExit: null },
    'space-indented',
  );
});

render.run();

// ------------------------------------------------ the stand-in executes the plist

const standin = suite('launchd: the stand-in runs plists as launchd would');

async function withHome(fn: (home: string, root: string) => Promise<void>): Promise<void> {
  const fx = new Fixture(mkdtempSync(join(tmpdir(), 'lops-standin-')));
  mkdirSync(fx.home, { recursive: true });
  try {
    await fn(fx.home, fx.root);
  } finally {
    await stopStandin(fx.home);
    await fx.cleanup();
  }
}

function writeAgent(home: string, spec: JobSpec): string {
  const path = getAgentPath(spec.label, home);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, renderAgentText(spec), { mode: 0o644 });
  return path;
}

/** A sync-kind job that runs a shell script instead of the tool. */
function scriptJob(root: string, label: string, script: string, over: Partial<JobSpec> = {}): JobSpec {
  return {
    kind: 'sync',
    label,
    programArguments: ['/bin/sh', '-c', script],
    workingDirectory: root,
    environment: { HOME: join(root, 'home'), ONLY: 'this & that' },
    stdoutPath: join(root, 'logs', `${label}.log`),
    stderrPath: join(root, 'logs', `${label}.log`),
    interval: 3600,
    ...over,
  };
}

standin(
  'a good plist runs with exactly its environment, folder and logs; 5 when loaded twice',
  withTimeout(30_000, () =>
    withHome(async (home, root) => {
      mkdirSync(join(root, 'logs'));
      const path = writeAgent(home, scriptJob(root, 'test.good', 'env > env.txt; pwd; echo to-stderr >&2'));
      assert.is((await launchctl(home, ['bootstrap', `gui/${UID}`, path])).code, 0);
      await waitFor(() => readRunState(home, 'test.good')?.lastExit === 0, 10_000, 'the job to run');
      const env = readFileSync(join(root, 'env.txt'), 'utf8')
        .split('\n')
        .filter((l) => l && !l.startsWith('PWD=') && !l.startsWith('SHLVL=') && !l.startsWith('_='));
      assert.equal(env.sort(), [
        `HOME=${join(root, 'home')}`,
        'ONLY=this & that',
        'PATH=/usr/bin:/bin:/usr/sbin:/sbin',
      ]);
      assert.is(readFileSync(join(root, 'logs', 'test.good.log'), 'utf8'), `${root}\nto-stderr\n`);
      assert.is((await launchctl(home, ['bootstrap', `gui/${UID}`, path])).code, 5);
      const printed = parsePrint((await launchctl(home, ['print', `gui/${UID}/test.good`])).stdout);
      assert.equal(printed, { state: 'not running', pid: null, lastExit: 0 });
      assert.is((await launchctl(home, ['bootout', `gui/${UID}/test.good`])).code, 0);
      await waitFor(
        async () => (await launchctl(home, ['print', `gui/${UID}/test.good`])).code === 113,
        10_000,
        'the bootout',
      );
    }),
  ),
);

standin(
  'a WorkingDirectory or log folder that does not exist fails the job with 78',
  withTimeout(30_000, () =>
    withHome(async (home, root) => {
      const cases = [
        scriptJob(root, 'test.nowhere', 'touch ran.txt', { workingDirectory: join(root, 'no', 'such', 'folder') }),
        scriptJob(root, 'test.nologs', 'touch ran.txt', {
          stdoutPath: join(root, 'missing-logs', 'x.log'),
          stderrPath: join(root, 'missing-logs', 'x.log'),
        }),
      ];
      for (const spec of cases) {
        assert.is(
          (await launchctl(home, ['bootstrap', `gui/${UID}`, writeAgent(home, spec)])).code,
          0,
          'launchd loads it',
        );
        await waitFor(() => readRunState(home, spec.label)?.lastExit === 78, 10_000, `${spec.label} to fail with 78`);
        const printed = parsePrint((await launchctl(home, ['print', `gui/${UID}/${spec.label}`])).stdout);
        assert.equal(printed, { state: 'not running', pid: null, lastExit: 78 });
      }
      assert.not.ok(existsSync(join(root, 'ran.txt')), 'the program never ran');
    }),
  ),
);

standin(
  'a plist others may write, or with a mistyped key, is refused',
  withTimeout(30_000, () =>
    withHome(async (home, root) => {
      const path = writeAgent(home, scriptJob(root, 'test.loose', 'true'));
      chmodSync(path, 0o666);
      assert.is((await launchctl(home, ['bootstrap', `gui/${UID}`, path])).code, 5);
      chmodSync(path, 0o644);
      writeFileSync(path, readFileSync(path, 'utf8').replace('<key>StartInterval</key>', '<key>StartIntervall</key>'));
      const r = await launchctl(home, ['bootstrap', `gui/${UID}`, path]);
      assert.is(r.code, 5);
      assert.match(r.stderr, /unknown key StartIntervall/);
    }),
  ),
);

standin.run();

// ------------------------------------------------------- the whole loop on launchd

const loop = suite('launchd: install, sync, re-install, uninstall through launchctl');
let fx: Fixture | null = null;
const env = standinEnv();
const LABEL = { sync: 'localhost-ops.site.sync', server: 'localhost-ops.site.server' };

function need(): Fixture {
  if (!fx) throw new Error('the install test did not create the fixture');
  return fx;
}

function agentPath(kind: 'sync' | 'server'): string {
  return getAgentPath(LABEL[kind], need().home);
}

function serverPid(): number | null {
  return readRunState(need().home, LABEL.server)?.pid ?? null;
}

function cliFailed(r: { code: number; stdout: string; stderr: string }): string {
  return `exit ${r.code}\n${r.stdout}\n${r.stderr}\n${need().readLog('site', 'sync.log').slice(-3000)}`;
}

loop.after(async () => {
  if (!fx) return;
  await stopStandin(fx.home);
  await fx.cleanup();
});

loop(
  'install --service launchd serves main from two loaded LaunchAgents',
  withTimeout(180_000, async () => {
    fx = await createFixture('hello from launchd');
    const r = await fx.cli(fx.installArgs({ service: 'launchd' }), env);
    assert.is(r.code, 0, cliFailed(r));
    assert.match((await fx.get('/')).body, 'site says: hello from launchd');
    for (const kind of ['sync', 'server'] as const) {
      assert.is(statSync(agentPath(kind)).mode & 0o777, 0o644, `${kind} plist mode`);
    }
    const calls = changingCalls(readCalls(fx.home));
    for (const kind of ['sync', 'server'] as const) {
      const enable = calls.indexOf(`enable gui/${UID}/${LABEL[kind]}`);
      const bootstrap = calls.indexOf(`bootstrap gui/${UID} ${agentPath(kind)}`);
      assert.ok(enable >= 0 && bootstrap > enable, `enable, then bootstrap ${kind}: ${calls.join(' | ')}`);
    }
    assert.not.ok(
      calls.some((c) => c.startsWith('bootout')),
      'nothing to boot out on a first install',
    );
    const pid = serverPid();
    assert.ok(pid !== null && isAlive(pid), "the server runs as the stand-in's job");
    // The sync agent's RunAtLoad sync waits for install's lock, then finds nothing to do.
    await fx.waitForSyncs(2);
    assert.match(
      fx
        .readLog('site', 'sync.log')
        .split('\n')
        .filter((l) => l.includes(' done: '))
        .pop() ?? '',
      'done: noop',
    );
    assert.ok(existsSync(join(fx.siteDir(), 'logs', 'launchd-sync.log')), 'launchd-sync.log exists');
  }),
);

loop(
  'both plists parse (plist and plistlib) and carry every key',
  withTimeout(30_000, async () => {
    const f = need();
    for (const kind of ['sync', 'server'] as const) {
      const text = readFileSync(agentPath(kind), 'utf8');
      assert.ok(text.startsWith('<?xml') && text.endsWith('</plist>\n'));
      const p = readPlist(agentPath(kind));
      assert.equal(await readWithPython(agentPath(kind)), p, `${kind}: plistlib agrees`);
      assert.is(p.Label, LABEL[kind]);
      const args = p.ProgramArguments as string[];
      assert.equal(args, [process.execPath, BIN, kind === 'sync' ? 'sync' : 'run', '--name', 'site']);
      assert.ok(
        isAbsolute(args[0]) && isAbsolute(args[1]),
        'an absolute Node and entry, never a bare node, npx or env',
      );
      assert.is(p.RunAtLoad, true);
      assert.is(p.WorkingDirectory, f.siteDir());
      const vars = p.EnvironmentVariables as Dict;
      assert.is(vars.HOME, f.home);
      assert.is(vars.LOCALHOST_OPS_HOME, f.opsHome);
      assert.is(String(vars.PATH).split(':')[0], dirname(process.execPath), 'the pinned Node first on PATH');
      for (const key of ['StandardOutPath', 'StandardErrorPath'] as const) {
        assert.is(p[key], join(f.siteDir(), 'logs', `launchd-${kind}.log`));
      }
      if (kind === 'sync') {
        assert.is(p.StartInterval, 3600);
        assert.is(p.ProcessType, 'Background');
      } else {
        assert.equal(p.KeepAlive, { SuccessfulExit: false });
        assert.ok(Number.isInteger(p.ThrottleInterval));
        assert.is(p.ProcessType, 'Interactive');
        assert.ok((p.ExitTimeOut as number) >= 10);
      }
    }
  }),
);

loop(
  're-install with the same flags boots out, bootstraps and restarts nothing',
  withTimeout(120_000, async () => {
    const f = need();
    const mark = readCalls(f.home).length;
    const pid = serverPid();
    const mtimes = [statSync(agentPath('sync')).mtimeMs, statSync(agentPath('server')).mtimeMs];
    const r = await f.cli(f.installArgs({ service: 'launchd' }), env);
    assert.is(r.code, 0, cliFailed(r));
    assert.equal(changingCalls(readCalls(f.home).slice(mark)), []);
    assert.is(serverPid(), pid, 'same server process');
    assert.equal(
      [statSync(agentPath('sync')).mtimeMs, statSync(agentPath('server')).mtimeMs],
      mtimes,
      'plists not rewritten',
    );
  }),
);

loop(
  'a pushed commit and sync are served after kickstart -k of the server',
  withTimeout(120_000, async () => {
    const f = need();
    const pid = serverPid();
    await f.push({ 'content.txt': 'second commit on main\n' });
    const mark = readCalls(f.home).length;
    const r = await f.cli(['sync'], env);
    assert.is(r.code, 0, cliFailed(r));
    assert.match(r.stdout, /^updated:/);
    assert.match((await f.get('/')).body, 'site says: second commit on main');
    assert.equal(changingCalls(readCalls(f.home).slice(mark)), [`kickstart -k gui/${UID}/${LABEL.server}`]);
    assert.is.not(serverPid(), pid, 'a new server process');
  }),
);

loop(
  'the sync agent itself picks up a pushed commit and kickstarts the server',
  withTimeout(120_000, async () => {
    const f = need();
    const pid = serverPid();
    await f.push({ 'content.txt': 'third commit, synced by the agent\n' });
    const mark = readCalls(f.home).length;
    const done = f.countSyncs();
    // What StartInterval would do an hour from now: run the sync job, under its plist's env.
    assert.is((await launchctl(f.home, ['kickstart', `gui/${UID}/${LABEL.sync}`])).code, 0);
    await f.waitForSyncs(done + 1);
    assert.is(f.record()?.status, 'updated', f.readLog('site', 'sync.log').slice(-2000));
    assert.match((await f.get('/')).body, 'site says: third commit, synced by the agent');
    assert.equal(changingCalls(readCalls(f.home).slice(mark)), [
      `kickstart gui/${UID}/${LABEL.sync}`,
      `kickstart -k gui/${UID}/${LABEL.server}`,
    ]);
    assert.is.not(serverPid(), pid, 'a new server process');
  }),
);

loop(
  'a hand-edited server plist is rewritten and bootstrapped (not kickstarted) on the next restart',
  withTimeout(120_000, async () => {
    const f = need();
    const original = readFileSync(agentPath('server'), 'utf8');
    writeFileSync(agentPath('server'), original.replace('<integer>10</integer>', '<integer>99</integer>'));
    await f.push({ 'content.txt': 'fourth commit\n' });
    const mark = readCalls(f.home).length;
    const r = await f.cli(['sync'], env);
    assert.is(r.code, 0, cliFailed(r));
    assert.match((await f.get('/')).body, 'site says: fourth commit');
    assert.is(readFileSync(agentPath('server'), 'utf8'), original, 'the plist is what install renders again');
    assert.equal(changingCalls(readCalls(f.home).slice(mark)), [
      `bootout gui/${UID}/${LABEL.server}`,
      `enable gui/${UID}/${LABEL.server}`,
      `bootstrap gui/${UID} ${agentPath('server')}`,
    ]);
  }),
);

loop(
  'a server booted out by hand is bootstrapped again by the next sync',
  withTimeout(120_000, async () => {
    const f = need();
    assert.is((await launchctl(f.home, ['bootout', `gui/${UID}/${LABEL.server}`])).code, 0);
    await waitFor(async () => (await f.get('/')).status === null, 30_000, 'the server to stop');
    const mark = readCalls(f.home).length;
    const r = await f.cli(['sync'], env);
    assert.is(r.code, 0, cliFailed(r));
    assert.match(r.stdout, /^updated:/, 'an unhealthy server is not a noop');
    assert.match((await f.get('/')).body, 'site says: fourth commit');
    assert.equal(changingCalls(readCalls(f.home).slice(mark)), [
      `enable gui/${UID}/${LABEL.server}`,
      `bootstrap gui/${UID} ${agentPath('server')}`,
    ]);
  }),
);

loop(
  'a server that dies is started again by KeepAlive',
  withTimeout(60_000, async () => {
    const f = need();
    const pid = serverPid();
    assert.ok(pid !== null);
    process.kill(-pid, 'SIGKILL');
    await waitFor(() => serverPid() !== null && serverPid() !== pid, 30_000, 'launchd to start the server again');
    await waitFor(async () => (await f.get('/')).status === 200, 30_000, 'the restarted server to answer');
  }),
);

loop(
  "sync rotates launchd's own logs by copy-then-truncate",
  withTimeout(60_000, async () => {
    const f = need();
    const log = join(f.siteDir(), 'logs', 'launchd-server.log');
    appendFileSync(log, 'x'.repeat(5 * 1024 * 1024 + 10) + '\n');
    const inode = statSync(log).ino;
    const r = await f.cli(['sync'], env);
    assert.is(r.code, 0, cliFailed(r));
    assert.is(statSync(log).ino, inode, 'the file launchd holds open is kept');
    assert.ok(statSync(log).size < 1024 * 1024, 'and truncated');
    assert.ok(statSync(`${log}.1`).size > 5 * 1024 * 1024, 'its content moved to .1');
  }),
);

loop(
  're-install with a changed --interval reloads only the sync agent',
  withTimeout(120_000, async () => {
    const f = need();
    const mark = readCalls(f.home).length;
    const pid = serverPid();
    const done = f.countSyncs();
    const r = await f.cli(f.installArgs({ service: 'launchd', interval: '7200' }), env);
    assert.is(r.code, 0, cliFailed(r));
    assert.equal(changingCalls(readCalls(f.home).slice(mark)), [
      `bootout gui/${UID}/${LABEL.sync}`,
      `enable gui/${UID}/${LABEL.sync}`,
      `bootstrap gui/${UID} ${agentPath('sync')}`,
    ]);
    assert.is(readPlist(agentPath('sync')).StartInterval, 7200);
    assert.is(serverPid(), pid, 'the server was not restarted');
    // The reloaded agent's RunAtLoad sync; let it finish before uninstall.
    await f.waitForSyncs(done + 2);
  }),
);

loop(
  'uninstall leaves no plist and no process',
  withTimeout(120_000, async () => {
    const f = need();
    const r = await f.cli(['uninstall'], env);
    assert.is(r.code, 0, cliFailed(r));
    for (const kind of ['sync', 'server'] as const) {
      assert.not.ok(existsSync(agentPath(kind)), `${kind} plist removed`);
      assert.is((await launchctl(f.home, ['print', `gui/${UID}/${LABEL[kind]}`])).code, 113, `${kind} unloaded`);
    }
    await waitFor(() => findProcessesUnder(f.root).length === 0, 10_000, 'every process of the fixture to end');
    assert.is((await f.get('/')).status, null, 'nothing answers on the port');
  }),
);

loop.run();
