/**
 * Issue 16: the faults found by attacking the first release that the slots alone do not
 * fix (DESIGN §3, "Robustness rules"). One test per fault; each asserts the exit code, the
 * sentence, and what the live page and last-sync.env say afterwards.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  existsSync,
  lstatSync,
  lutimesSync,
  readFileSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { sh, findProcessesUnder, waitFor, type Fixture } from '../../helpers/fixture.js';
import { isAlive, killQuietly, spawnDetached } from '../../helpers/proc.js';
import { e2e } from '../../helpers/e2e.js';
import { fetchBranch, hasRemote, lsRemote } from '../../../src/os/git.js';

const T = 180_000;

/** Installs the fixture's site and waits for the sync agent's first run; returns the good commit. */
async function install(fx: Fixture, over: Record<string, string | true> = {}): Promise<string> {
  const r = await fx.cli(fx.installArgs({ 'health-timeout': '10', ...over }));
  assert.is(r.code, 0, `install failed: ${r.stdout}${r.stderr}`);
  await fx.waitForSyncs(2);
  return sh(fx.canonical, 'git', ['rev-parse', 'origin/main']);
}

async function syncJson(fx: Fixture, ...flags: string[]): Promise<{ code: number; out: Record<string, string> }> {
  const r = await fx.cli(['sync', '--json', ...flags]);
  return { code: r.code, out: JSON.parse(r.stdout) };
}

function lastSyncText(fx: Fixture): string {
  return readFileSync(join(fx.siteDir(), 'last-sync.env'), 'utf8');
}

e2e(
  test,
  "1. a hand-edited config.json is checked with install's rules on every load; uninstall still stops the jobs",
  async (fx) => {
    const good = await install(fx);
    const file = join(fx.siteDir(), 'config.json');
    const installed = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    const edit = (change: Record<string, unknown>) =>
      writeFileSync(file, JSON.stringify({ ...installed, ...change }, null, 2) + '\n');
    const record = lastSyncText(fx);
    const pwned = join(fx.root, 'PWNED');
    const fix =
      'Fix or delete ~/ops-local/site/config.json, then run localhost-ops install --repo DIR --name site again.';
    const cases: [Record<string, unknown>, string][] = [
      [
        { remote: `--upload-pack=touch ${pwned};git-upload-pack` },
        `--remote "--upload-pack=touch ${pwned};git-upload-pack" starts with "-", so git would take it for an option.`,
      ],
      [{ branch: '--output=x' }, '--branch "--output=x" starts with "-", so git would take it for an option.'],
      [{ port: 0 }, '--port must be a whole number from 1 to 65535, not "0".'],
      [{ port: 1_000_000 }, '--port must be a whole number from 1 to 65535, not "1000000".'],
      [{ healthTimeout: 0 }, '--health-timeout must be a whole number from 1 to 3600 seconds, not "0".'],
    ];
    for (const [change, rule] of cases) {
      edit(change);
      const r = await fx.cli(['sync', '--name', 'site']);
      assert.is(r.code, 2, `${JSON.stringify(change)}: ${r.stdout}${r.stderr}`);
      assert.is(r.stdout, '');
      assert.is(
        r.stderr,
        `localhost-ops: ~/ops-local/site/config.json holds a value install refuses: ${rule} ${fix}\n`,
      );
      assert.is((await fx.get()).body, 'site says: config\n', 'the live page keeps serving');
      assert.is(lastSyncText(fx), record, 'last-sync.env is untouched');
    }
    // Below the config, git itself never takes a remote for an option: `--` comes first.
    const evil = `--upload-pack=touch ${pwned};git-upload-pack`;
    assert.not.ok(await hasRemote(fx.canonical, evil));
    await fetchBranch(fx.canonical, evil, 'main', 10_000).then(
      () => assert.unreachable('fetched'),
      (err: Error) => assert.match(err.message, /git fetch .* failed/),
    );
    await lsRemote(fx.canonical, evil, 'main', 10_000).then(
      () => assert.unreachable('listed'),
      (err: Error) => assert.match(err.message, /git ls-remote exited with/),
    );
    assert.not.ok(existsSync(pwned), 'no command of the config ran');
    // The sync agent, woken by the change, refuses it too (it keeps running and retries).
    await waitFor(
      () =>
        /agent: sync failed to run: ~\/ops-local\/site\/config\.json holds a value install refuses/.test(fx.readLog()),
      15_000,
      'the sync agent to refuse the edited config',
    );

    // A wrong type, and a backend that cannot be read either: uninstall stops the jobs all the same.
    edit({ port: 'x', service: 42 });
    const u = await fx.cli(['uninstall', '--name', 'site']);
    assert.is(u.code, 2, u.stdout + u.stderr);
    assert.is(u.stdout, '');
    assert.is(
      u.stderr,
      'localhost-ops: ~/ops-local/site/config.json is missing fields or has values of the wrong type. The jobs of "site" are stopped and removed (process backend), and the site folder is kept as it is. Fix or delete ~/ops-local/site/config.json, or remove the site with localhost-ops uninstall --name site --purge.\n',
    );
    assert.equal(findProcessesUnder(fx.siteDir()), [], 'no job or dev server of the site runs');
    assert.not.ok(await fx.isUp(), 'the port is free');
    assert.is(lastSyncText(fx), record);
    assert.is(await sh(fx.canonical, 'git', ['rev-parse', 'origin/main']), good);

    const p = await fx.cli(['uninstall', '--name', 'site', '--purge']);
    assert.is(p.code, 0, p.stderr);
    assert.match(
      p.stdout,
      /^The jobs of "site" are stopped and removed \(process backend\); ~\/ops-local\/site\/config\.json is missing fields/,
    );
    assert.not.ok(existsSync(fx.siteDir()), 'the site folder is gone');
    assert.is((await sh(fx.canonical, 'git', ['worktree', 'list'])).split('\n').length, 1, 'and its slots');
  },
  { content: 'config', timeoutMs: T },
);

e2e(
  test,
  "2. garbage SHAs in last-sync.env are ignored: the live slot's HEAD is the truth",
  async (fx) => {
    const good = await install(fx);
    const file = join(fx.siteDir(), 'last-sync.env');
    const garbage = [
      'LAST_SYNC_AT="2026-01-01 00:00:00"',
      'LAST_SYNC_STATUS="updated"',
      'LAST_SYNC_SHA="HEAD"',
      'LAST_SYNC_TARGET_SHA="--soft"',
      'LAST_GOOD_SHA="--upload-pack=touch PWNED;git-upload-pack"',
      `LAST_FAILED_SHA="${good.slice(0, 12)}"`,
      'LAST_SYNC_DEPS="skipped"',
      'LAST_SYNC_DURATION_MS="1"',
      'LAST_SYNC_MESSAGE="hand-written"',
    ];
    writeFileSync(file, garbage.join('\n') + '\n');
    // A missing standby is recreated at the last good commit: a garbage one must not reach git.
    const standby = join(fx.siteDir(), 'slots', readlinkSync(fx.worktree).endsWith('a') ? 'b' : 'a');
    rmSync(standby, { recursive: true, force: true });
    const noop = await syncJson(fx);
    assert.is(noop.code, 0, noop.out.message);
    assert.is(noop.out.status, 'noop');
    assert.is(noop.out.message, `main ${good.slice(0, 7)} is served; nothing to do.`);
    assert.equal(
      [noop.out.sha, noop.out.targetSha, noop.out.goodSha, noop.out.failedSha],
      [good, good, good, ''],
      "every SHA is the live slot's or main's",
    );
    assert.match(fx.readLog(), new RegExp(`repair: created slot [ab] at ${good.slice(0, 7)}`));
    assert.is(await sh(standby, 'git', ['rev-parse', 'HEAD']), good);
    assert.not.ok(existsSync(join(fx.root, 'PWNED')) || existsSync(join(fx.canonical, 'PWNED')));
    const rec = fx.record();
    assert.equal([rec?.sha, rec?.goodSha, rec?.failedSha], [good, good, '']);

    const next = await fx.push({ 'content.txt': 'after the garbage\n' });
    const updated = await syncJson(fx);
    assert.is(updated.code, 0, updated.out.message);
    assert.is(updated.out.status, 'updated');
    assert.is(updated.out.sha, next);
    assert.is((await fx.get()).body, 'site says: after the garbage\n');
    assert.is(fx.record()?.goodSha, next);
  },
  { content: 'garbage', timeoutMs: T },
);

/** /proc/<pid>/stat's starttime: what the lock records for its holder on Linux. */
function procStart(pid: number): string {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
}

e2e(
  test,
  '3. a sync.lock whose pid now belongs to another program is taken over at once; a live holder is waited for',
  async (fx) => {
    await install(fx);
    // An unrelated program, alive, with the pid a killed sync once had.
    const other = spawnDetached('sleep', ['600'], { cwd: fx.root, env: fx.env, logFile: join(fx.root, 'sleep.log') });
    await waitFor(() => isAlive(other), 5000, 'sleep to run');
    const lock = join(fx.siteDir(), 'sync.lock');
    // First as its own lock (the start matches): a live sync, waited for.
    writeFileSync(lock, `${other}\n\n${procStart(other)}\n`);
    const sha = await fx.push({ 'content.txt': 'after the reused pid\n' });
    const started = Date.now();
    const pending = fx.cli(['sync', '--json']);
    await waitFor(() => Date.now() - started > 3000, 5000, 'the sync to wait');
    assert.ok(existsSync(lock), 'still held: the sync waits for a live holder');
    assert.not.match(fx.readLog(), /took over a stale lock/);
    // Then as the lock of a process that started earlier: the pid was reused.
    writeFileSync(lock, `${other}\n\n${Number(procStart(other)) - 100}\n`);
    const r = await pending;
    assert.is(r.code, 0, r.stderr);
    assert.match(r.stderr, new RegExp(`waiting for another sync \\(pid ${other}\\)`));
    const out = JSON.parse(r.stdout) as Record<string, string>;
    assert.is(out.status, 'updated', out.message);
    assert.is(out.sha, sha);
    assert.ok(Date.now() - started < 60_000, 'not the 120 s wait');
    assert.match(
      fx.readLog(),
      new RegExp(`lock: took over a stale lock from pid ${other}, a pid another program has now`),
    );
    assert.ok(isAlive(other), 'the unrelated program is left alone');
    assert.is((await fx.get()).body, 'site says: after the reused pid\n');
    assert.is(fx.record()?.sha, sha);
    assert.is(fx.record()?.goodSha, sha);
    killQuietly(other, 'SIGKILL');
  },
  { content: 'reused pid', timeoutMs: T },
);

e2e(
  test,
  '4. temp files a killed writer left are removed by the sync after an hour, younger ones kept',
  async (fx) => {
    const good = await install(fx);
    const dir = fx.siteDir();
    const old = new Date(Date.now() - 2 * 3600_000);
    const plant = (path: string, at: Date | null) => {
      writeFileSync(path, 'half-writ');
      if (at) utimesSync(path, at, at);
    };
    plant(join(dir, '.last-sync.env.4242.tmp'), old);
    plant(join(dir, 'run', '.server.json.4242.tmp'), old);
    plant(join(dir, '.config.json.4243.tmp'), null);
    symlinkSync('slots/a', join(dir, 'localhost-worktree.4242.tmp'));
    lutimesSync(join(dir, 'localhost-worktree.4242.tmp'), old, old);
    const r = await syncJson(fx);
    assert.is(r.code, 0, r.out.message);
    assert.is(r.out.status, 'noop');
    assert.is(r.out.sha, good);
    assert.match(
      fx.readLog(),
      /cleanup: removed 3 temp files older than an hour: \.last-sync\.env\.4242\.tmp, localhost-worktree\.4242\.tmp, run\/\.server\.json\.4242\.tmp\n/,
    );
    for (const gone of ['.last-sync.env.4242.tmp', 'run/.server.json.4242.tmp', 'localhost-worktree.4242.tmp']) {
      assert.not.ok(existsSync(join(dir, gone)) || isSymlink(join(dir, gone)), gone);
    }
    assert.ok(existsSync(join(dir, '.config.json.4243.tmp')), 'a young one may still be written: kept');
    assert.is(fx.record()?.status, 'noop');
    assert.is(fx.record()?.sha, good);
    assert.is((await fx.get()).body, 'site says: leftovers\n');
  },
  { content: 'leftovers', timeoutMs: T },
);

function isSymlink(path: string): boolean {
  try {
    return lstatSync(path).isSymbolicLink();
  } catch {
    return false;
  }
}

e2e(
  test,
  '5. a relative LOCALHOST_OPS_HOME is resolved at install and recorded for the jobs; one that is a file exits 2',
  async (fx) => {
    const file = join(fx.root, 'not-a-folder');
    writeFileSync(file, 'x');
    const bad = await fx.cli(fx.installArgs(), { LOCALHOST_OPS_HOME: file });
    assert.is(bad.code, 2, bad.stdout + bad.stderr);
    assert.is(bad.stdout, '');
    assert.is(
      bad.stderr,
      `localhost-ops: LOCALHOST_OPS_HOME ${file} is a file, not a folder. Set LOCALHOST_OPS_HOME to a folder, or unset it to use ~/ops-local.\n`,
    );
    const below = await fx.cli(fx.installArgs(), { LOCALHOST_OPS_HOME: join(file, 'sites') });
    assert.is(below.code, 2);
    assert.is(
      below.stderr,
      `localhost-ops: LOCALHOST_OPS_HOME ${file}/sites cannot be a folder: ${file} is a file. Set LOCALHOST_OPS_HOME to a folder, or unset it to use ~/ops-local.\n`,
    );

    // Relative to where install runs (the fixture's root): the jobs run in the site folder.
    const relative = 'home/ops-local';
    assert.is(join(fx.root, relative), fx.opsHome);
    const r = await fx.cli(fx.installArgs({ 'health-timeout': '10' }), { LOCALHOST_OPS_HOME: relative });
    assert.is(r.code, 0, r.stdout + r.stderr);
    await fx.waitForSyncs(2);
    const config = JSON.parse(readFileSync(join(fx.siteDir(), 'config.json'), 'utf8'));
    assert.is(config.jobs.env.LOCALHOST_OPS_HOME, fx.opsHome, 'recorded absolute');
    const spec = JSON.parse(readFileSync(join(fx.siteDir(), 'run', 'sync.spec.json'), 'utf8'));
    assert.is(spec.environment.LOCALHOST_OPS_HOME, fx.opsHome);
    // The sync agent finds the site: a push it is told of is served.
    const sha = await fx.push({ 'content.txt': 'found by the jobs\n' });
    const agent = Number(readFileSync(join(fx.siteDir(), 'run', 'sync.pid'), 'utf8'));
    process.kill(agent, 'SIGHUP');
    await waitFor(() => fx.record()?.sha === sha, 60_000, 'the sync agent to serve the push');
    assert.is(fx.record()?.status, 'updated');
    assert.match(fx.readLog(), new RegExp(`\\[${agent}\\] done: updated sha=${sha.slice(0, 7)}`));
    assert.is((await fx.get()).body, 'site says: found by the jobs\n');
  },
  { content: 'relative home', timeoutMs: T },
);

/** A dev server that answers only the percent-encoded health path and /; anything else is a 500. */
const ENCODED_PATH_SERVER = `
const http = require('node:http');
const fs = require('node:fs');
const args = process.argv.slice(2);
const arg = (name, fallback) => (args.includes('--' + name) ? args[args.indexOf('--' + name) + 1] : fallback);
http.createServer((req, res) => {
  if (req.url === '/%E6%97%A5%E6%9C%AC') return res.end('healthy\\n');
  if (req.url === '/') return res.end('site says: ' + fs.readFileSync('content.txt', 'utf8').trim() + '\\n');
  res.writeHead(500);
  res.end('unexpected path ' + req.url + '\\n');
}).listen(Number(arg('port', process.env.PORT)), arg('host', '127.0.0.1'));
process.on('SIGTERM', () => process.exit(0));
`;

e2e(
  test,
  '6. --health-path /日本 is sent percent-encoded: the gate passes and doctor agrees',
  async (fx) => {
    const sha = await fx.push({ 'server.js': ENCODED_PATH_SERVER }, 'a server with a Japanese health path');
    const r = await fx.cli(fx.installArgs({ 'health-path': '/日本', 'health-timeout': '10' }));
    assert.is(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, new RegExp(`^Serving main ${sha.slice(0, 7)} at http://127\\.0\\.0\\.1:${fx.port}/\n`));
    assert.match(fx.readLog(), /health: ok: answered 200 on 127\.0\.0\.1:\d+/);
    const config = JSON.parse(readFileSync(join(fx.siteDir(), 'config.json'), 'utf8'));
    assert.is(config.healthPath, '/日本', 'recorded as given');
    const doctor = await fx.cli(['doctor', '--json', '--no-network']);
    const http = (JSON.parse(doctor.stdout).checks as { id: string; status: string; summary: string }[]).find(
      (c) => c.id === 'http',
    );
    assert.is(http?.status, 'ok', doctor.stdout);
    assert.match(http?.summary ?? '', new RegExp(`^http://127\\.0\\.0\\.1:${fx.port}/日本 answered 200 in \\d+ ms$`));
    assert.not.match(fx.readLog('site', 'server.log'), /unexpected path/);
    // The sync agent's first sync, after install's: the gate's verdict holds.
    await fx.waitForSyncs(2);
    assert.is(fx.record()?.status, 'noop');
    assert.is(fx.record()?.sha, sha);
    assert.is((await fx.get()).body, 'site says: encoded\n');
  },
  { content: 'encoded', timeoutMs: T },
);

e2e(
  test,
  '7. --node must answer --version with a Node version: /bin/sh is refused before anything is written',
  async (fx) => {
    const r = await fx.cli(fx.installArgs({ node: '/bin/sh' }));
    assert.is(r.code, 2, r.stdout + r.stderr);
    assert.is(r.stdout, '');
    assert.match(
      r.stderr,
      /^localhost-ops: --node \/bin\/sh did not answer --version with a Node version \(it said "[^"]*Illegal option[^"]*"\)\. Pass --node with the path of a node binary, or leave it out\.\n$/,
    );
    assert.not.ok(existsSync(fx.siteDir()), 'nothing was written');
    assert.not.ok(await fx.isUp(), 'nothing serves');
    // A real Node, pinned: served.
    const ok = await fx.cli(fx.installArgs({ node: process.execPath }));
    assert.is(ok.code, 0, ok.stdout + ok.stderr);
    const sha = await sh(fx.canonical, 'git', ['rev-parse', 'origin/main']);
    assert.is(fx.record()?.sha, sha);
    assert.is(fx.record()?.goodSha, sha);
    assert.is((await fx.get()).body, 'site says: pinned\n');
  },
  { content: 'pinned', timeoutMs: T },
);

e2e(
  test,
  "8. submodules are checked out in the standby slot; one the commit cannot get is the commit's fault",
  async (fx) => {
    const good = await install(fx);
    // The syncs below are this test's own: the sync agent, woken by their fetches, could
    // serve the next push first and leave ours a noop.
    killQuietly(Number(readFileSync(join(fx.siteDir(), 'run', 'sync.pid'), 'utf8')), 'SIGKILL');
    // A submodule repository of its own, reached by file:// as a local mirror would be.
    const subForge = join(fx.root, 'sub.git');
    const subWork = join(fx.root, 'sub-work');
    await sh(fx.root, 'git', ['init', '-q', '--bare', '-b', 'main', subForge]);
    await sh(fx.root, 'git', ['clone', '-q', subForge, subWork]);
    writeFileSync(join(subWork, 'hello.txt'), 'from the submodule\n');
    await sh(subWork, 'git', ['add', '-A']);
    await sh(subWork, 'git', ['commit', '-q', '-m', 'sub']);
    await sh(subWork, 'git', ['push', '-q', 'origin', 'HEAD:main']);
    const subSha = await sh(subWork, 'git', ['rev-parse', 'HEAD']);
    await sh(fx.upstream, 'git', [
      '-c',
      'protocol.file.allow=always',
      'submodule',
      'add',
      '-q',
      `file://${subForge}`,
      'vendor/sub',
    ]);
    const withSub = await fx.push({ 'content.txt': 'with a submodule\n' }, 'add a submodule');

    const r = await syncJson(fx);
    assert.is(r.code, 0, r.out.message);
    assert.is(r.out.status, 'updated');
    assert.is(r.out.sha, withSub);
    assert.match(fx.readLog(), /\] submodules: updated\n/);
    assert.is(readFileSync(join(fx.worktree, 'vendor', 'sub', 'hello.txt'), 'utf8'), 'from the submodule\n');
    assert.is(await sh(fx.worktree, 'git', ['status', '--porcelain']), '', 'the live slot is clean');
    assert.is((await fx.get()).body, 'site says: with a submodule\n');

    // A commit that points its submodule at a commit never pushed: held back, blamed on the commit.
    const missing = 'f'.repeat(40);
    await sh(fx.upstream, 'git', ['update-index', '--cacheinfo', `160000,${missing},vendor/sub`]);
    await sh(fx.upstream, 'git', ['commit', '-q', '-m', 'a submodule commit nobody pushed']);
    await sh(fx.upstream, 'git', ['push', '-q', 'origin', 'HEAD:main']);
    const bad = await sh(fx.upstream, 'git', ['rev-parse', 'HEAD']);
    const held = await syncJson(fx);
    assert.is(held.code, 1, held.out.message);
    assert.is(held.out.status, 'rolled-back');
    assert.is(held.out.failedSha, bad);
    assert.is(held.out.sha, withSub);
    assert.match(
      held.out.message,
      new RegExp(
        `^main ${bad.slice(0, 7)} failed \\(submodules: git submodule exited with \\d+: .+\\); held back\\. Still serving ${withSub.slice(0, 7)}\\.`,
      ),
    );
    assert.match(fx.readLog(), /\] submodules: failed: git submodule exited with/);
    assert.is((await fx.get()).body, 'site says: with a submodule\n');
    assert.is(fx.record()?.status, 'rolled-back');
    assert.is(fx.record()?.goodSha, withSub);

    // The fix is served, submodule and all.
    await sh(fx.upstream, 'git', ['update-index', '--cacheinfo', `160000,${subSha},vendor/sub`]);
    const fixed = await fx.push({ 'content.txt': 'submodule fixed\n' }, 'point the submodule back');
    const ok = await syncJson(fx);
    assert.is(ok.out.status, 'updated', ok.out.message);
    assert.is(ok.out.sha, fixed);
    assert.is(ok.out.failedSha, '');
    assert.is(readFileSync(join(fx.worktree, 'vendor', 'sub', 'hello.txt'), 'utf8'), 'from the submodule\n');
    assert.is((await fx.get()).body, 'site says: submodule fixed\n');
    assert.is(fx.record()?.goodSha, fixed);
    assert.is(await sh(fx.worktree, 'git', ['status', '--porcelain']), '');

    // A commit without the submodule: its folder goes too, so the slot stays clean.
    await sh(fx.upstream, 'git', ['rm', '-q', 'vendor/sub']);
    const gone = await fx.push({ 'content.txt': 'submodule removed\n' }, 'drop the submodule');
    const last = await syncJson(fx);
    assert.is(last.out.status, 'updated', last.out.message);
    assert.is(last.out.sha, gone);
    assert.not.ok(existsSync(join(fx.worktree, 'vendor', 'sub')), 'no submodule folder is left in the live slot');
    assert.is(await sh(fx.worktree, 'git', ['status', '--porcelain']), '');
    const again = await syncJson(fx);
    assert.is(again.out.status, 'noop', 'a clean slot: nothing to do');
    assert.is((await fx.get()).body, 'site says: submodule removed\n');
    assert.ok(good !== gone);
  },
  { content: 'no submodule yet', timeoutMs: T },
);

/** The tiny site's server, listening only after the milliseconds in SLOW (when that file exists). */
const SLOW_SERVER = `
const http = require('node:http');
const fs = require('node:fs');
const args = process.argv.slice(2);
const arg = (name, fallback) => (args.includes('--' + name) ? args[args.indexOf('--' + name) + 1] : fallback);
const delay = fs.existsSync('SLOW') ? Number(fs.readFileSync('SLOW', 'utf8')) : 0;
setTimeout(() => {
  http.createServer((req, res) => res.end('site says: ' + fs.readFileSync('content.txt', 'utf8').trim() + '\\n'))
    .listen(Number(arg('port', process.env.PORT)), arg('host', '127.0.0.1'));
}, delay);
process.on('SIGTERM', () => process.exit(0));
`;

e2e(
  test,
  '9. a first install whose server starts slower than --health-timeout: the failed gate stops what it started',
  async (fx) => {
    const slow = await fx.push({ 'server.js': SLOW_SERVER, SLOW: '8000' }, 'a server that takes 8 s to listen');
    const started = Date.now();
    const r = await fx.cli(fx.installArgs({ 'health-timeout': '2' }));
    assert.is(r.code, 1, r.stdout + r.stderr);
    const message = `main ${slow.slice(0, 7)} failed (health gate: / did not answer (ECONNREFUSED) within 2 s) and no commit has served yet; the next commit on main will be tried.`;
    assert.match(r.stdout, `The mirror is installed but not serving main: ${message}`);
    assert.is(fx.record()?.status, 'error');
    assert.is(fx.record()?.failedSha, slow);
    assert.is(fx.record()?.message, message);
    const slots = join(fx.siteDir(), 'slots');
    assert.equal(findProcessesUnder(slots), [], 'nothing of the slot is left running');
    // Past the moment the slow server would have listened: still nothing, and the state still says so.
    await waitFor(() => Date.now() - started > 10_000, 15_000, "the slow server's delay to pass");
    assert.equal(findProcessesUnder(slots), []);
    assert.not.ok((await fx.get()).body.startsWith('site says'), 'no dev server answers behind the front door');
    await fx.waitForSyncs(2);
    assert.is(fx.record()?.status, 'error');
    assert.match(fx.record()?.message ?? '', /failed before and no commit has served yet/);

    const good = await fx.push({ SLOW: null, 'content.txt': 'quick now\n' }, 'listen at once');
    const ok = await syncJson(fx);
    assert.is(ok.code, 0, ok.out.message);
    assert.is(ok.out.status, 'updated');
    assert.is(ok.out.sha, good);
    assert.is(ok.out.failedSha, '');
    assert.is((await fx.get()).body, 'site says: quick now\n');
    assert.is(fx.record()?.goodSha, good);
  },
  { content: 'slow start', timeoutMs: T },
);

interface DoctorCheck {
  id: string;
  status: string;
  summary: string;
}

async function doctorChecks(fx: Fixture): Promise<{ code: number; checks: Record<string, DoctorCheck> }> {
  const r = await fx.cli(['doctor', '--json', '--no-network']);
  const checks = (JSON.parse(r.stdout).checks as DoctorCheck[]).map((c) => [c.id, c] as const);
  return { code: r.code, checks: Object.fromEntries(checks) };
}

e2e(
  test,
  '10. doctor during a sync says it runs and at which step, and judges only the live slot',
  async (fx) => {
    // The first install's sync: nothing is live yet, and that is not a problem while it works.
    await fx.push({ 'server.js': SLOW_SERVER, SLOW: '6000' }, 'a server that takes 6 s to listen');
    const installing = fx.cli(fx.installArgs({ 'health-timeout': '20' }));
    await waitFor(() => /\] start: slot a through the server agent\n/.test(fx.readLog()), 60_000, 'the first start');
    const first = await doctorChecks(fx);
    assert.is(first.code, 0, JSON.stringify(first.checks, null, 2));
    const step = 'start: slot a through the server agent';
    const now = new RegExp(`a sync is running \\(pid \\d+, at ${step}\\)`);
    assert.is(first.checks['last-sync'].status, 'ok');
    assert.match(
      first.checks['last-sync'].summary,
      new RegExp(`^no sync has recorded its outcome yet; ${now.source}$`),
    );
    assert.is(first.checks.slots.status, 'warn');
    assert.match(first.checks.slots.summary, new RegExp(`^no slot is live yet: ${now.source}, preparing the first$`));
    assert.is(first.checks['server-process'].status, 'warn');
    assert.is(first.checks.http.status, 'skip');
    assert.is(first.checks['worktree-clean'].status, 'skip');
    for (const c of Object.values(first.checks)) assert.is.not(c.status, 'fail', `${c.id}: ${c.summary}`);
    const installed = await installing;
    assert.is(installed.code, 0, installed.stdout + installed.stderr);
    await fx.waitForSyncs(2);

    // A sync preparing the standby beside a healthy live slot: the standby is not judged.
    const next = await fx.push({ 'content.txt': 'prepared while doctor looked\n' });
    const before = fx.readLog().length;
    const syncing = syncJson(fx);
    await waitFor(
      () => /\] start: slot b through the server agent\n/.test(fx.readLog().slice(before)),
      60_000,
      'the standby start',
    );
    const during = await doctorChecks(fx);
    assert.is(during.code, 0, JSON.stringify(during.checks, null, 2));
    const stepB = new RegExp(`a sync is running \\(pid \\d+, at start: slot b through the server agent\\)`);
    assert.is(during.checks['last-sync'].status, 'ok');
    assert.match(
      during.checks['last-sync'].summary,
      new RegExp(`^noop .*: main [0-9a-f]{7} is served; nothing to do\\. Now ${stepB.source}\\.$`),
    );
    assert.is(during.checks.slots.status, 'ok');
    assert.match(
      during.checks.slots.summary,
      new RegExp(`^slot a live at [0-9a-f]{7} .*; slot b standby, being prepared by a sync .*; ${stepB.source}$`),
    );
    assert.is(during.checks['server-process'].status, 'ok');
    assert.is(during.checks.http.status, 'ok');
    for (const c of Object.values(during.checks)) assert.is.not(c.status, 'fail', `${c.id}: ${c.summary}`);
    const done = await syncing;
    assert.is(done.code, 0, done.out.message);
    assert.is(done.out.status, 'updated');
    assert.is(done.out.sha, next);
    assert.is((await fx.get()).body, 'site says: prepared while doctor looked\n');
    assert.is(fx.record()?.sha, next);
    // Once it is done, doctor judges everything again and says nothing of a sync.
    const after = await doctorChecks(fx);
    assert.is(after.code, 0);
    assert.not.match(after.checks['last-sync'].summary, /a sync is running/);
  },
  { content: 'doctor looks', timeoutMs: T },
);

/** A dev server that forks a detached worker (a process group of its own) to hold its port. */
const FORKING_SERVER = `
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const os = require('node:os');
const args = process.argv.slice(2);
const arg = (name, fallback) => (args.includes('--' + name) ? args[args.indexOf('--' + name) + 1] : fallback);
const port = arg('port', process.env.PORT);
const host = arg('host', '127.0.0.1');
const worker = spawn(process.execPath, ['worker.js', port, host], { detached: true, stdio: 'ignore' });
worker.unref();
fs.writeFileSync(path.join(os.homedir(), 'worker.pid'), String(worker.pid));
setInterval(() => {}, 1 << 30);
process.on('SIGTERM', () => process.exit(0));
`;

const WORKER = `
const http = require('node:http');
const fs = require('node:fs');
const [port, host] = process.argv.slice(2);
http.createServer((req, res) => res.end('site says: ' + fs.readFileSync('content.txt', 'utf8').trim() + '\\n'))
  .listen(Number(port), host);
`;

e2e(
  test,
  '11. uninstall ends what a dev server left in the slots (a detached worker holding its port) and says which',
  async (fx) => {
    const sha = await fx.push({ 'server.js': FORKING_SERVER, 'worker.js': WORKER }, 'a server with a detached worker');
    await install(fx);
    assert.is((await fx.get()).body, 'site says: forked\n', 'the worker serves');
    const worker = Number(readFileSync(join(fx.home, 'worker.pid'), 'utf8'));
    assert.ok(isAlive(worker));
    const record = lastSyncText(fx);
    assert.is(fx.record()?.sha, sha);

    const r = await fx.cli(['uninstall', '--name', 'site']);
    assert.is(r.code, 0, r.stdout + r.stderr);
    assert.is(r.stderr, '');
    const lines = r.stdout.split('\n');
    assert.is(lines[0], `Removed the jobs of "site"; port ${fx.port} is free.`);
    assert.match(
      lines[1],
      new RegExp(
        `^Ended 1 process left running in the slots: pid ${worker} \\(${process.execPath.replace(/[.]/g, '\\.')} worker\\.js \\d+ 127\\.0\\.0\\.1\\)\\.$`,
      ),
    );
    assert.is(lines[2], 'Kept ~/ops-local/site; uninstall --purge removes it, install brings the site back.');
    await waitFor(() => !isAlive(worker), 5000, 'the worker to be gone');
    assert.equal(findProcessesUnder(join(fx.siteDir(), 'slots')), [], 'nothing runs in the slots');
    assert.equal(findProcessesUnder(fx.siteDir()), [], 'nor in the site folder');
    assert.not.ok(await fx.isUp(), 'the port is free');
    assert.is(lastSyncText(fx), record, 'last-sync.env is as the last sync left it');
  },
  { content: 'forked', timeoutMs: T },
);

test.run();
