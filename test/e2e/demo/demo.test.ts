/**
 * `demo` (DESIGN §12) from an empty HOME with no git identity: it serves a page that shows
 * its commit, `--merge` shows a text (escaped) with no failed request, `--break` is held
 * back while the page keeps serving and doctor explains, `--remove` leaves nothing behind.
 * No fixed port: the hidden --port says where to start looking, and the demo says where
 * it serves.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, mkdirSync, existsSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, type Server } from 'node:net';
import { Fixture, findProcessesUnder, sh, waitFor, withTimeout } from '../../helpers/fixture.js';
import { getFreePort, httpGet, isAlive } from '../../helpers/proc.js';
import { startPoller, describeStats } from '../../helpers/poller.js';

const demo = suite('demo');

/** A HOME and tool home of their own, with no git identity anywhere; always cleaned up. */
function inHome(title: string, fn: (fx: Fixture) => Promise<void>, ms = 240_000): void {
  demo(
    title,
    withTimeout(ms + 30_000, async () => {
      const fx = new Fixture(mkdtempSync(join(tmpdir(), 'lops-demo-')));
      mkdirSync(fx.home, { recursive: true });
      for (const key of Object.keys(fx.env)) {
        if (/^GIT_(AUTHOR|COMMITTER)_|^EMAIL$|^GIT_CONFIG/.test(key)) delete fx.env[key];
      }
      fx.env.GIT_CONFIG_NOSYSTEM = '1';
      fx.port = await getFreePort();
      try {
        await withTimeout(ms, () => fn(fx))();
      } finally {
        await fx.cleanup();
      }
    }),
  );
}

/** The port the demo says it serves on. */
function servedPort(stdout: string): number {
  const m = /Open http:\/\/127\.0\.0\.1:(\d+)\//.exec(stdout);
  assert.ok(m, `demo printed no URL:\n${stdout}`);
  return Number(m[1]);
}

function demoPaths(fx: Fixture) {
  const root = join(fx.opsHome, '.demo');
  return { root, forge: join(root, 'forge.git'), canonical: join(root, 'canonical'), site: fx.siteDir('demo') };
}

async function forgeMain(fx: Fixture): Promise<string> {
  return sh(demoPaths(fx).forge, 'git', ['rev-parse', 'refs/heads/main'], fx.env);
}

function jobPids(fx: Fixture): number[] {
  const run = join(demoPaths(fx).site, 'run');
  return readdirSync(run)
    .filter((f) => f.endsWith('.pid'))
    .map((f) => Number(readFileSync(join(run, f), 'utf8')));
}

interface DoctorJson {
  verdict: string;
  checks: { id: string; status: string; summary: string; detail?: string }[];
}

inHome('demo serves its commit; --merge shows the text; --break is held back; --remove leaves nothing', async (fx) => {
  const started = Date.now();
  const made = await fx.cli(['demo', '--port', String(fx.port)]);
  assert.is(made.code, 0, made.stdout + made.stderr);
  const port = servedPort(made.stdout);
  if (port !== fx.port) assert.match(made.stdout, `Port ${fx.port} is busy, so the demo serves on port ${port}`);
  assert.match(made.stdout, 'localhost-ops demo --merge "Hello"');
  assert.match(made.stdout, 'localhost-ops doctor --name demo');
  assert.match(made.stdout, 'localhost-ops demo --remove');
  process.stdout.write(`\n  demo served after ${Date.now() - started} ms\n`);

  // The page shows the commit its server was started from: main as the forge has it.
  const first = await forgeMain(fx);
  const page = await httpGet('127.0.0.1', port, '/', 5000);
  assert.is(page.status, 200);
  assert.match(page.body, first);
  assert.is(fx.record('demo')?.sha, first);
  assert.ok(existsSync(join(demoPaths(fx).canonical, '.git')));

  // Run again: it says so, and where.
  const again = await fx.cli(['demo']);
  assert.is(again.code, 0, again.stderr);
  assert.match(again.stdout, `The demo is already set up: http://127.0.0.1:${port}/`);

  // --merge: a visitor reloading every 20 ms sees the new text, escaped, and no failure.
  let poller = startPoller(port);
  await new Promise((r) => setTimeout(r, 300));
  const mergeStarted = Date.now();
  const merged = await fx.cli(['demo', '--merge', 'Hello <b>']);
  const mergeMs = Date.now() - mergeStarted;
  assert.is(merged.code, 0, merged.stdout + merged.stderr);
  assert.match(merged.stdout, /serves [0-9a-f]{7} \d+\.\d s after the merge/);
  await waitFor(() => poller.stats.bodies.some((b) => b.includes('Hello &lt;b&gt;')), 10_000, 'the merged text');
  let stats = await poller.stop();
  assert.is(stats.failed + stats.errors, 0, describeStats(stats));
  assert.ok(!stats.bodies.some((b) => b.includes('Hello <b>')), 'the text must be escaped');
  assert.ok(mergeMs < 30_000, `--merge took ${mergeMs} ms`);
  const good = await forgeMain(fx);
  assert.is.not(good, first);
  assert.is(fx.record('demo')?.status, 'updated');
  assert.is(fx.record('demo')?.sha, good);
  assert.match((await httpGet('127.0.0.1', port, '/', 5000)).body, good);
  process.stdout.write(`  --merge served after ${mergeMs} ms, ${stats.total} requests\n`);

  // --break: held back, the page keeps serving the last good main, and doctor explains.
  poller = startPoller(port);
  const broke = await fx.cli(['demo', '--break']);
  assert.is(broke.code, 0, broke.stdout + broke.stderr);
  const bad = await forgeMain(fx);
  assert.match(broke.stdout, `The sync held ${bad.slice(0, 7)} back`);
  assert.match(broke.stdout, `still serves the last good main, ${good.slice(0, 7)}`);
  stats = await poller.stop();
  assert.is(stats.failed + stats.errors, 0, describeStats(stats));
  assert.ok(
    stats.bodies.every((b) => b.includes(good)),
    describeStats(stats),
  );
  const rec = fx.record('demo');
  assert.is(rec?.status, 'rolled-back');
  assert.is(rec?.failedSha, bad);
  assert.is(rec?.sha, good);
  const status = await fx.cli(['status', '--json']);
  assert.is(status.code, 0, status.stderr);
  const sites = (JSON.parse(status.stdout) as { sites: { name: string; status: string; servedSha: string }[] }).sites;
  assert.is(sites.find((s) => s.name === 'demo')?.status, 'rolled-back');
  const doctor = await fx.cli(['doctor', '--name', 'demo', '--json']);
  assert.is(doctor.code, 1, doctor.stdout + doctor.stderr);
  const report = JSON.parse(doctor.stdout) as DoctorJson;
  assert.is.not(report.verdict, 'ok');
  assert.ok(
    report.checks.some((c) => (c.status === 'fail' || c.status === 'warn') && c.summary.includes(bad.slice(0, 7))),
    `no check names the held-back ${bad.slice(0, 7)}: ${doctor.stdout}`,
  );

  // --remove: no site folder, no .demo, no job, no process, no listener.
  const pids = jobPids(fx);
  assert.is(pids.length, 2);
  const removed = await fx.cli(['demo', '--remove']);
  assert.is(removed.code, 0, removed.stdout + removed.stderr);
  assert.match(removed.stdout, 'The demo is gone');
  assert.not.ok(existsSync(demoPaths(fx).site), 'the site folder is gone');
  assert.not.ok(existsSync(demoPaths(fx).root), '.demo is gone');
  assert.not.ok(existsSync(fx.opsHome), 'the tool home held only the demo, so it is gone too');
  for (const pid of pids) assert.not.ok(isAlive(pid), `job ${pid} still runs`);
  await waitFor(() => findProcessesUnder(fx.root).length === 0, 10_000, 'no process left under the fixture');
  assert.is((await httpGet('127.0.0.1', port, '/', 2000)).status, null, 'nothing listens on the port');
  const twice = await fx.cli(['demo', '--remove']);
  assert.is(twice.code, 0);
  assert.match(twice.stdout, 'There is no demo to remove.');
});

inHome('the port the demo would take is busy: it serves on the next free one and says which', async (fx) => {
  const busy: Server = createServer();
  await new Promise<void>((r) => busy.listen({ host: '127.0.0.1', port: fx.port, exclusive: true }, () => r()));
  try {
    const made = await fx.cli(['demo', '--port', String(fx.port)]);
    assert.is(made.code, 0, made.stdout + made.stderr);
    const port = servedPort(made.stdout);
    assert.is.not(port, fx.port);
    assert.match(made.stdout, `Port ${fx.port} is busy, so the demo serves on port ${port}.`);
    assert.is((await httpGet('127.0.0.1', port, '/', 5000)).status, 200);
    const removed = await fx.cli(['demo', '--remove']);
    assert.is(removed.code, 0, removed.stdout + removed.stderr);
  } finally {
    await new Promise<void>((r) => busy.close(() => r()));
  }
});

inHome('bad input is refused with exit 2, and nothing is made', async (fx) => {
  const cases: [string[], RegExp][] = [
    [['demo', '--merge', ''], /--merge needs the text/],
    [['demo', '--merge', 'x', '--break'], /one of --merge, --break and --remove/],
    [['demo', '--merge', 'Hello'], /The demo is not set up\. Run localhost-ops demo first\./],
    [['demo', '--break'], /The demo is not set up/],
    [['demo', '--port', '0'], /--port must be a whole number from 1 to 65535/],
    [['demo', '--remove', '--port', '5000'], /--port only chooses where a new demo serves/],
  ];
  for (const [args, said] of cases) {
    const r = await fx.cli(args);
    assert.is(r.code, 2, `${args.join(' ')}: ${r.stdout}${r.stderr}`);
    assert.match(r.stderr, said, args.join(' '));
    assert.not.match(r.stderr, /\n\s+at /, 'no stack trace');
  }
  assert.not.ok(existsSync(join(fx.opsHome, '.demo')), 'nothing was made');
});

demo.run();
