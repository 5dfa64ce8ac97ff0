/**
 * The rough edges (DESIGN §1): a closed stdout ends quietly; --json bad input prints
 * {error, fix} on stdout; sync says after 2 s that it waits for another sync and at which
 * step; logs -f follows a log across its rotation (copy, then truncate). These need a site
 * on disk, not a running one: the config is written by hand.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { appendFileSync, copyFileSync, mkdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { e2e } from '../../helpers/e2e.js';
import { BIN, waitFor, type Fixture } from '../../helpers/fixture.js';
import { isAlive, run, spawnDetached, stopGroup } from '../../helpers/proc.js';

const edges = suite('manage: rough edges');

/** A site folder with a config and logs, and no jobs (its repo does not exist, so a sync fails fast). */
function fakeSite(fx: Fixture, name = 'fake'): string {
  const dir = fx.siteDir(name);
  mkdirSync(join(dir, 'logs'), { recursive: true });
  writeFileSync(
    join(dir, 'config.json'),
    JSON.stringify({
      schemaVersion: 1,
      name,
      repo: join(fx.root, 'no-repo'),
      remote: 'origin',
      branch: 'main',
      host: '127.0.0.1',
      port: fx.port,
      interval: 60,
      command: 'auto',
      node: null,
      service: 'process',
      healthPath: '/',
      healthTimeout: 60,
      restart: 'always',
      allowRemote: false,
      notify: false,
    }),
  );
  return dir;
}

e2e(edges, 'a closed stdout (| head -1) ends quietly: no EPIPE, no stack trace', async (fx) => {
  const dir = fakeSite(fx);
  const lines = Array.from({ length: 50_000 }, (_, i) => `2026-03-16 20:00:00 [a 1234567] line ${i}\n`).join('');
  writeFileSync(join(dir, 'logs', 'server.log'), lines);
  const node = JSON.stringify(process.execPath);
  const bin = JSON.stringify(BIN);
  for (const args of ['logs --server -n 50000', 'logs -n 50000', 'status --json', 'logs --help']) {
    const r = await run('sh', ['-c', `${node} ${bin} ${args} | head -1; echo "exit $?" >&2`], {
      cwd: fx.root,
      env: fx.env,
      timeoutMs: 60_000,
    });
    assert.is(r.stdout.split('\n').length, 2, `${args}: one line on stdout: ${r.stdout.slice(0, 200)}`);
    assert.is(r.stderr, 'exit 0\n', `${args}: nothing on stderr`);
  }
});

e2e(edges, '--json bad input prints {error, fix} on stdout as well as the sentence on stderr', async (fx) => {
  const cases: [string[], RegExp][] = [
    [['sync', '--json', '--name', 'nope'], /No site is installed|No site named "nope"/],
    [['sync', '--json', '--name', '../x'], /not a valid site name/],
    [['doctor', '--json', '--bogus'], /Unknown argument/i],
    [['status', '--json', 'extra'], /Unknown argument/i],
  ];
  for (const [args, error] of cases) {
    const r = await fx.cli(args);
    assert.is(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    const doc = JSON.parse(r.stdout) as { error: string; fix: string };
    assert.equal(Object.keys(doc), ['error', 'fix']);
    assert.match(doc.error, error);
    assert.ok(doc.fix.length > 0, args.join(' '));
    assert.is(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.ok(r.stderr.includes(doc.error), r.stderr);
  }
  // Without --json: nothing on stdout.
  assert.is((await fx.cli(['sync', '--name', '../x'])).stdout, '');
});

e2e(edges, 'sync says after 2 s that it waits for another sync, and at which step', async (fx) => {
  const dir = fakeSite(fx);
  // Another sync: a live pid (this test's) holds the lock, and its last step is in sync.log.
  writeFileSync(join(dir, 'sync.lock'), `${process.pid}\n`);
  appendFileSync(
    join(dir, 'logs', 'sync.log'),
    `2026-03-16 20:00:00 [${process.pid}] deps: npm ci under Node 20.1.0 (/usr/bin/node)\n`,
  );
  const release = setTimeout(() => rmSync(join(dir, 'sync.lock'), { force: true }), 3500);
  const started = Date.now();
  const r = await fx.cli(['sync', '--name', 'fake', '--json']);
  clearTimeout(release);
  assert.ok(Date.now() - started >= 3000);
  assert.match(
    r.stderr,
    new RegExp(
      `^localhost-ops: waiting for another sync \\(pid ${process.pid}\\), at deps: npm ci under Node 20\\.1\\.0 \\(/usr/bin/node\\)\\n$`,
    ),
  );
  const doc = JSON.parse(r.stdout) as { site: string; url: string; status: string };
  assert.is(doc.site, 'fake');
  assert.is(doc.url, `http://127.0.0.1:${fx.port}/`);
  assert.is(doc.status, 'error');
  // Not waiting: nothing on stderr.
  const quick = await fx.cli(['sync', '--name', 'fake', '--json']);
  assert.is(quick.stderr, '');
});

e2e(edges, 'logs -f follows across a rotation (copy, then truncate) and ends on SIGTERM', async (fx) => {
  const dir = fakeSite(fx);
  const log = join(dir, 'logs', 'server.log');
  writeFileSync(log, '2026-03-16 20:00:00 [agent] before\n');
  const out = join(fx.root, 'follow.out');
  const pid = spawnDetached(process.execPath, [BIN, 'logs', '--server', '-f', '-n', '1'], {
    cwd: fx.root,
    env: fx.env,
    logFile: out,
  });
  try {
    const read = () => readFileSync(out, 'utf8');
    await waitFor(() => read().includes('before'), 10_000, 'the last line');
    appendFileSync(log, '2026-03-16 20:00:01 [agent] one\n2026-03-16 20:00:02 \u001b[31m[agent] two\u001b[39m\n');
    await waitFor(() => read().includes('two'), 5000, 'appended lines');
    // Rotation as os/log.ts does it: a line lands just before the copy, then the file is truncated.
    appendFileSync(log, '2026-03-16 20:00:03 [agent] three\n');
    copyFileSync(log, `${log}.1`);
    truncateSync(log, 0);
    appendFileSync(log, '2026-03-16 20:00:04 [agent] four\n');
    await waitFor(() => read().includes('four'), 5000, 'the line after the rotation');
    appendFileSync(log, '2026-03-16 20:00:05 [agent] partial');
    await new Promise((r) => setTimeout(r, 600));
    appendFileSync(log, ' line\n');
    await waitFor(() => read().includes('partial line'), 5000, 'a line written in two pieces');
    assert.is(
      read(),
      [
        '2026-03-16 20:00:00 [agent] before',
        '2026-03-16 20:00:01 [agent] one',
        '2026-03-16 20:00:02 [agent] two',
        '2026-03-16 20:00:03 [agent] three',
        '2026-03-16 20:00:04 [agent] four',
        '2026-03-16 20:00:05 [agent] partial line',
        '',
      ].join('\n'),
    );
    process.kill(pid, 'SIGTERM');
    await waitFor(() => !isAlive(pid), 5000, 'logs -f to end on SIGTERM');
  } finally {
    await stopGroup(pid, 1000);
  }
});

edges.run();
