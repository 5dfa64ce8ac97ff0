/**
 * Never lose the mirror: after each fault the page still shows the last good
 * commit, last-sync.env tells the truth, and the next good commit on main is served.
 * With slots nothing moves back: a broken main is held in the standby slot and never
 * switched to, so "rolled-back" means held back while the live slot keeps serving.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  existsSync,
  readFileSync,
  renameSync,
  writeFileSync,
  utimesSync,
  readdirSync,
  unlinkSync,
  rmSync,
  realpathSync,
  cpSync,
} from 'node:fs';
import { join } from 'node:path';
import { sh, waitFor, BIN, type Fixture } from '../../helpers/fixture.js';
import { e2e } from '../../helpers/e2e.js';
import { packageJson } from '../../helpers/site.js';
import { run, spawnDetached, isAlive, killQuietly, getFreePort } from '../../helpers/proc.js';

const T = 180_000;

/** Installs the fixture's site and waits for the sync job's first run; returns the good commit. */
async function install(fx: Fixture): Promise<string> {
  const r = await fx.cli(fx.installArgs({ 'health-timeout': '6' }));
  assert.is(r.code, 0, `install failed: ${r.stdout}${r.stderr}`);
  await fx.waitForSyncs(2);
  return sh(fx.canonical, 'git', ['rev-parse', 'origin/main']);
}

/** The live slot's dev server pid, from the agent's run/server.json. */
function liveDevPid(fx: Fixture): number | null {
  const state = JSON.parse(readFileSync(join(fx.siteDir(), 'run', 'server.json'), 'utf8')) as {
    live: 'a' | 'b' | null;
    slots: Record<string, { pid: number | null }>;
  };
  return state.live ? state.slots[state.live].pid : null;
}

/** The slot not serving: where a sync prepares the next main. */
function standbyDir(fx: Fixture): string {
  const live = realpathSync(fx.worktree);
  return join(fx.siteDir(), 'slots', live.endsWith('/a') ? 'b' : 'a');
}

async function syncJson(fx: Fixture, ...flags: string[]): Promise<{ code: number; out: Record<string, string> }> {
  const r = await fx.cli(['sync', '--json', ...flags]);
  return { code: r.code, out: JSON.parse(r.stdout) };
}

/** A broken main is rolled back, held (not retried, not restarted), then a fix is served. */
async function assertBrokenMainHeld(fx: Fixture, good: string, body: string, bad: string): Promise<void> {
  const first = await syncJson(fx);
  assert.is(first.code, 1);
  assert.is(first.out.status, 'rolled-back', first.out.message);
  assert.is(first.out.sha, good);
  assert.is(first.out.targetSha, bad);
  assert.is(first.out.goodSha, good);
  assert.is(first.out.failedSha, bad);
  assert.match(first.out.message, /held back\. Still serving/);
  assert.is((await fx.get()).body, body, 'the page shows the last good commit');
  assert.is(await sh(fx.worktree, 'git', ['rev-parse', 'HEAD']), good);
  const rec = fx.record();
  assert.is(rec?.status, 'rolled-back');
  assert.is(rec?.failedSha, bad);

  // The same broken main again: held on the last good commit, and nothing restarts.
  const pid = fx.serverPid();
  const dev = liveDevPid(fx);
  assert.ok(dev, 'the live dev server runs');
  const again = await syncJson(fx);
  assert.is(again.code, 1);
  assert.is(again.out.status, 'rolled-back');
  assert.is(again.out.sha, good);
  assert.match(again.out.message, /failed before/);
  assert.is(fx.serverPid(), pid, 'a known-bad main does not restart the server agent');
  assert.is(liveDevPid(fx), dev, 'nor the live dev server');

  const fixed = await fx.push({ CRASH: null, STATUS: null, 'content.txt': 'fixed\n' }, 'fix main');
  const last = await syncJson(fx);
  assert.is(last.code, 0, last.out.message);
  assert.is(last.out.status, 'updated');
  assert.is(last.out.sha, fixed);
  assert.is(last.out.failedSha, '');
  assert.is((await fx.get()).body, 'site says: fixed\n');
}

e2e(
  test,
  'a main whose server exits at start is rolled back and held',
  async (fx) => {
    const good = await install(fx);
    const bad = await fx.push({ CRASH: '1' }, 'break the server');
    await assertBrokenMainHeld(fx, good, 'site says: good one\n', bad);
    assert.match(fx.readLog(), /health: failed: the dev server exited with exit code 3 before it answered/);
  },
  { content: 'good one', timeoutMs: T },
);

e2e(
  test,
  'a main that answers 500 is rolled back and held',
  async (fx) => {
    const good = await install(fx);
    const bad = await fx.push({ STATUS: '500' }, 'answer 500');
    await assertBrokenMainHeld(fx, good, 'site says: good two\n', bad);
    assert.match(fx.readLog(), /health: failed: \/ answered 500/);
  },
  { content: 'good two', timeoutMs: T },
);

e2e(
  test,
  'a main whose lockfile npm ci rejects is rolled back',
  async (fx) => {
    const good = await install(fx);
    // A lockfile npm cannot read: npm ci refuses before it installs anything.
    const lockfile = readFileSync(join(fx.upstream, 'package-lock.json'), 'utf8');
    const bad = await fx.push({ 'package-lock.json': lockfile.slice(0, lockfile.length / 2) }, 'a broken lockfile');
    const r = await syncJson(fx);
    assert.is(r.out.status, 'rolled-back', r.out.message);
    assert.is(r.out.failedSha, bad);
    assert.match(r.out.message, /dependencies: npm ci exited/);
    assert.is((await fx.get()).body, 'site says: good three\n');
    assert.is(await sh(fx.worktree, 'git', ['rev-parse', 'HEAD']), good);
    const fixed = await fx.push({ 'package-lock.json': lockfile, 'content.txt': 'fixed\n' }, 'fix the lockfile');
    const last = await syncJson(fx);
    assert.is(last.out.status, 'updated', last.out.message);
    assert.is(last.out.sha, fixed);
    assert.is((await fx.get()).body, 'site says: fixed\n');
  },
  { content: 'good three', timeoutMs: T },
);

e2e(
  test,
  'an unreachable registry: the network is blamed, not main; the live slot and its node_modules are untouched',
  async (fx) => {
    const good = await install(fx);
    // main adds a registry package; the registry is a closed port and the cache is empty.
    const lock = JSON.parse(readFileSync(join(fx.upstream, 'package-lock.json'), 'utf8'));
    const deps = { greeting: 'file:vendor/greeting', 'is-number': '7.0.0' };
    lock.packages[''].dependencies = deps;
    lock.packages['node_modules/is-number'] = {
      version: '7.0.0',
      resolved: 'https://registry.npmjs.org/is-number/-/is-number-7.0.0.tgz',
      integrity: 'sha512-41Cifkg6e8TylSpdtTpeLVMqvSBEVzTttHvERD741+pnZ8ANv0004MRL43QKPDlK9cGvNp6NZWZUBlbGXYxxng==',
    };
    const bad = await fx.push({
      'package.json': packageJson({ dependencies: deps }),
      'package-lock.json': JSON.stringify(lock, null, 2) + '\n',
    });
    const pid = fx.serverPid();
    const dev = liveDevPid(fx);
    const offline = {
      // A port nothing listens on: the kernel's pick, never a fixed number such as 9.
      npm_config_registry: `http://127.0.0.1:${await getFreePort()}/`,
      npm_config_cache: join(fx.root, 'empty-npm-cache'),
      npm_config_fetch_retries: '0',
    };
    const r = JSON.parse((await fx.cli(['sync', '--json'], offline)).stdout);
    // The machine's network, not main: an error that the next sync retries, nothing held back.
    assert.is(r.status, 'error', r.message);
    assert.is(r.failedSha, '');
    assert.is(r.targetSha, bad);
    assert.is(r.sha, good);
    assert.match(r.message, /npm ci could not reach the registry \(ECONNREFUSED\)/);
    assert.match(r.message, /The next sync tries again/);
    assert.not.match(r.message, /--force/);
    assert.ok(existsSync(join(fx.worktree, 'node_modules', 'greeting')), 'the live node_modules is untouched');
    assert.not.ok(existsSync(join(standbyDir(fx), 'node_modules', 'greeting')), 'the half install is gone');
    assert.is(fx.serverPid(), pid, 'the server agent never stopped');
    assert.is(liveDevPid(fx), dev, 'nor the live dev server');
    assert.is((await fx.get()).body, 'site says: registry\n');
    assert.is(await sh(fx.worktree, 'git', ['status', '--porcelain']), '');
  },
  { content: 'registry', timeoutMs: T },
);

e2e(
  test,
  'a first install on a broken main is an error, keeps the jobs, and tries the next commit',
  async (fx) => {
    const bad = await fx.push({ CRASH: '1' });
    const r = await fx.cli(fx.installArgs({ 'health-timeout': '6' }));
    assert.is(r.code, 1, r.stdout);
    assert.is(fx.record()?.status, 'error');
    assert.is(fx.record()?.failedSha, bad);
    assert.ok(existsSync(join(fx.siteDir(), 'run', 'sync.pid')), 'the sync job is installed');
    await fx.waitForSyncs(2);
    assert.match(fx.record()?.message ?? '', /failed before and no commit has served yet/);
    const fixed = await fx.push({ CRASH: null, 'content.txt': 'works now\n' });
    const s = await syncJson(fx);
    assert.is(s.out.status, 'updated', s.out.message);
    assert.is(s.out.sha, fixed);
    assert.is((await fx.get()).body, 'site says: works now\n');
  },
  { content: 'broken from the start', timeoutMs: T },
);

e2e(
  test,
  'a main whose engines no installed Node satisfies is an error before the mirror is touched',
  async (fx) => {
    const good = await install(fx);
    const pid = fx.serverPid();
    const bad = await fx.push({ 'package.json': packageJson({ engines: { node: '>=99' } }) }, 'require Node 99');
    const r = await syncJson(fx);
    assert.is(r.code, 1);
    assert.is(r.out.status, 'error');
    assert.is(r.out.targetSha, bad);
    assert.is(r.out.sha, good);
    assert.is(r.out.failedSha, '', 'not a broken commit: this machine lacks a Node');
    assert.match(r.out.message, />=99/);
    assert.match(r.out.message, /brew install node@99|nvm install 99/);
    assert.is(await sh(fx.worktree, 'git', ['rev-parse', 'HEAD']), good, 'the live slot was not touched');
    assert.is(await sh(standbyDir(fx), 'git', ['rev-parse', 'HEAD']), good, 'nor the standby');
    assert.is(fx.serverPid(), pid, 'nothing restarted');
    assert.is((await fx.get()).body, 'site says: engines\n');
    const fixed = await fx.push({
      'package.json': packageJson({ engines: { node: '>=18' } }),
      'content.txt': 'any node\n',
    });
    const ok = await syncJson(fx);
    assert.is(ok.out.status, 'updated', ok.out.message);
    assert.is(ok.out.sha, fixed);
  },
  { content: 'engines', timeoutMs: T },
);

e2e(
  test,
  'a stray server on the port is not blamed on main: nothing is marked failed',
  async (fx) => {
    const good = await install(fx);
    await fx.killServer();
    const stray = await fx.startStrayServer();
    const sha = await fx.push({ 'content.txt': 'after the stray\n' });
    const r = await syncJson(fx);
    assert.is(r.code, 1);
    assert.is(r.out.status, 'error', r.out.message);
    assert.is(r.out.failedSha, '');
    assert.is(r.out.goodSha, good);
    assert.match(r.out.message, new RegExp(`served by pid ${stray.pid}`));
    assert.match(r.out.message, /Stop that program/);
    await stray.stop();
    // The failed sync's fetch also woke the sync agent, which leaves a main that sync
    // finished on (here with an error) to its interval: the next sync is ours.
    const ok = await syncJson(fx);
    assert.is(ok.out.status, 'updated', ok.out.message);
    assert.is(ok.out.sha, sha);
    assert.is((await fx.get()).body, 'site says: after the stray\n');
  },
  { content: 'stray', timeoutMs: T },
);

e2e(
  test,
  'a server that will not come back on the good commit does not mark that commit failed',
  async (fx) => {
    const good = await install(fx);
    // Break what the served commit needs without moving main: its installed dependency, in
    // both slots (a heal is a fresh server in the standby, which would otherwise just work).
    const live = realpathSync(fx.worktree);
    const standby = standbyDir(fx);
    // The standby (same commit since install) gets the live slot's tree, stamp included, so
    // it counts as installed; then the dependency goes from both.
    cpSync(join(live, 'node_modules'), join(standby, 'node_modules'), { recursive: true });
    for (const dir of [live, standby]) rmSync(join(dir, 'node_modules', 'greeting'), { recursive: true, force: true });
    await fx.killServer();
    const r = await syncJson(fx);
    assert.is(r.code, 1);
    assert.is(r.out.status, 'error', r.out.message);
    assert.is(r.out.failedSha, '', 'the commit that passed before stays good');
    assert.is(r.out.goodSha, good);
    assert.match(r.out.message, /did not come back/);
    // Once the cause is gone the next sync serves it again, without --force.
    for (const dir of [live, standby]) rmSync(join(dir, 'node_modules'), { recursive: true, force: true });
    const ok = await syncJson(fx);
    assert.is(ok.out.status, 'updated', ok.out.message);
    assert.is(ok.out.sha, good);
    assert.is((await fx.get()).body, 'site says: heal\n');
  },
  { content: 'heal', timeoutMs: T },
);

e2e(
  test,
  'an unreachable forge is an error; mirror and server are untouched; then it recovers',
  async (fx) => {
    const good = await install(fx);
    const pid = fx.serverPid();
    const dev = liveDevPid(fx);
    renameSync(fx.forge, `${fx.forge}.away`);
    const r = await syncJson(fx);
    assert.is(r.code, 1);
    assert.is(r.out.status, 'error');
    assert.is(r.out.targetSha, '');
    assert.is(r.out.sha, good);
    assert.is(r.out.goodSha, good);
    assert.match(r.out.message, /Could not fetch origin\/main/);
    assert.is(fx.record()?.status, 'error');
    assert.is(fx.serverPid(), pid, 'the server agent was not restarted');
    assert.is(liveDevPid(fx), dev, 'nor the live dev server');
    assert.is((await fx.get()).body, 'site says: offline\n');
    renameSync(`${fx.forge}.away`, fx.forge);
    const sha = await fx.push({ 'content.txt': 'back online\n' });
    const ok = await syncJson(fx);
    assert.is(ok.out.status, 'updated');
    assert.is(ok.out.sha, sha);
  },
  { content: 'offline', timeoutMs: T },
);

e2e(
  test,
  'a stale index.lock in the mirror and a stale sync.lock are taken care of',
  async (fx) => {
    await install(fx);
    const gitDir = readFileSync(join(fx.worktree, '.git'), 'utf8').replace('gitdir:', '').trim();
    const indexLock = join(gitDir, 'index.lock');
    writeFileSync(indexLock, '');
    const old = new Date(Date.now() - 60_000);
    utimesSync(indexLock, old, old);
    // A sync.lock whose holder is gone: a pid that cannot be alive.
    writeFileSync(join(fx.siteDir(), 'sync.lock'), '999999\n');
    const sha = await fx.push({ 'content.txt': 'unlocked\n' });
    const r = await syncJson(fx);
    assert.is(r.out.status, 'updated', r.out.message);
    assert.is(r.out.sha, sha);
    assert.not.ok(existsSync(indexLock), fx.readLog());
    // Our fetch also woke the sync agent, whose own sync may hold the lock for a moment: none is left behind.
    await waitFor(() => !existsSync(join(fx.siteDir(), 'sync.lock')), 15_000, 'no sync to hold sync.lock');
    assert.match(fx.readLog(), /removed a stale index\.lock/);
    assert.match(fx.readLog(), /took over a stale lock from pid 999999/);
    assert.is((await fx.get()).body, 'site says: unlocked\n');
  },
  { content: 'locks', timeoutMs: T },
);

e2e(
  test,
  'a slot switched to a branch is detached again, and the branch is free for its owner',
  async (fx) => {
    const good = await install(fx);
    await sh(fx.worktree, 'git', ['checkout', '-q', '-b', 'someone-else']);
    const r = await syncJson(fx);
    assert.ok(['updated', 'noop'].includes(r.out.status), r.out.message);
    const head = await run('git', ['symbolic-ref', '-q', 'HEAD'], { cwd: fx.worktree, allowFail: true });
    assert.is(head.code, 1, 'HEAD is detached again');
    assert.is(await sh(fx.worktree, 'git', ['rev-parse', 'HEAD']), good);
    assert.match(fx.readLog(), /repair: detached slot [ab] from the branch someone checked out in it/);
    // The user can check the branch out in their own clone again.
    await sh(fx.canonical, 'git', ['checkout', '-q', 'someone-else']);
  },
  { content: 'branchy', timeoutMs: T },
);

e2e(
  test,
  "the fetch waits out a ref lock held by the user's own git",
  async (fx) => {
    await install(fx);
    const sha = await fx.push({ 'content.txt': 'after the pull\n' });
    const refLock = join(fx.canonical, '.git', 'refs', 'remotes', 'origin', 'main.lock');
    writeFileSync(refLock, '');
    const released = new Promise((r) => setTimeout(() => r(unlinkSync(refLock)), 1500));
    const r = await syncJson(fx);
    await released;
    assert.match(fx.readLog(), /another git holds the ref lock in the canonical repo; retrying/);
    assert.is(r.out.status, 'updated', r.out.message);
    assert.is(r.out.sha, sha);
  },
  { content: 'contention', timeoutMs: T },
);

e2e(
  test,
  'four racing syncs all exit 0; exactly one updates; no git lock is left',
  async (fx) => {
    await install(fx);
    const sha = await fx.push({ 'content.txt': 'raced\n' });
    const results = await Promise.all([1, 2, 3, 4].map(() => syncJson(fx)));
    assert.equal(
      results.map((r) => r.code),
      [0, 0, 0, 0],
    );
    const statuses = results.map((r) => r.out.status).sort();
    assert.equal(statuses, ['noop', 'noop', 'noop', 'updated']);
    for (const r of results) assert.is(r.out.sha, sha);
    const locks = (await sh(fx.root, 'find', [fx.canonical + '/.git', fx.siteDir(), '-name', '*.lock'])).trim();
    assert.is(locks, '', 'no lock file is left behind');
    assert.is((await fx.get()).body, 'site says: raced\n');
  },
  { content: 'race', timeoutMs: T },
);

/** Starts `sync` as a process we can kill -9 at a chosen moment. */
async function killSyncWhen(fx: Fixture, logPattern: RegExp): Promise<void> {
  const logFile = join(fx.root, 'killed-sync.out');
  const before = fx.readLog().length;
  const pid = spawnDetached(process.execPath, [BIN, 'sync'], { cwd: fx.root, env: fx.env, logFile });
  await waitFor(
    () => logPattern.test(fx.readLog().slice(before)) || !isAlive(pid),
    60_000,
    `sync to reach ${logPattern}`,
  );
  assert.ok(isAlive(pid), `the sync was still running at ${logPattern}`);
  killQuietly(pid, 'SIGKILL');
  await waitFor(() => !isAlive(pid), 5000, 'the killed sync to be gone');
}

e2e(
  test,
  'kill -9 mid-npm ci: the next sync ends the orphaned npm and recovers',
  async (fx) => {
    await install(fx);
    const slow = packageJson({
      scripts: { dev: 'node server.js', postinstall: 'node -e "setTimeout(() => {}, 4000)"' },
    });
    writeFileSync(join(fx.upstream, 'package.json'), slow);
    await run('npm', ['install', '--package-lock-only', '--offline', '--no-audit', '--no-fund', '--ignore-scripts'], {
      cwd: fx.upstream,
    });
    const sha = await fx.push({ 'content.txt': 'after the kill\n' });
    const before = fx.readLog().length;
    await killSyncWhen(fx, /deps: npm ci under/);
    // The killed sync's fetch woke the sync agent: whichever sync comes next takes the stale lock over.
    const r = await syncJson(fx);
    assert.ok(['updated', 'noop'].includes(r.out.status), r.out.message);
    assert.is(r.out.sha, sha);
    const after = fx.readLog().slice(before);
    assert.match(after, /took over a stale lock/);
    assert.match(after.split('took over a stale lock')[1], /deps: installed in/);
    assert.is((await fx.get()).body, 'site says: after the kill\n');
    assert.is(await sh(fx.worktree, 'git', ['status', '--porcelain']), '');
  },
  { content: 'slow deps', timeoutMs: T },
);

e2e(
  test,
  'kill -9 mid-reset (and its leftovers): the next sync recovers',
  async (fx) => {
    await install(fx);
    const sha = await fx.push({ 'content.txt': 'after the reset\n', 'more.txt': 'x\n' });
    // Killed as it prepares the standby: stop the sync agent first, so no other sync repairs it before ours.
    killQuietly(Number(readFileSync(join(fx.siteDir(), 'run', 'sync.pid'), 'utf8')), 'SIGKILL');
    const standby = standbyDir(fx);
    await killSyncWhen(fx, /plan: prepare slot/);
    // What a checkout killed half-way leaves in the standby: its index.lock and a half-written tree.
    const gitDir = readFileSync(join(standby, '.git'), 'utf8').replace('gitdir:', '').trim();
    writeFileSync(join(gitDir, 'index.lock'), '');
    const old = new Date(Date.now() - 60_000);
    utimesSync(join(gitDir, 'index.lock'), old, old);
    writeFileSync(join(standby, 'content.txt'), 'half-writ');
    const r = await syncJson(fx);
    assert.is(r.out.status, 'updated', r.out.message);
    assert.is(r.out.sha, sha);
    assert.is((await fx.get()).body, 'site says: after the reset\n');
    assert.is(await sh(fx.worktree, 'git', ['status', '--porcelain']), '');
    assert.equal(
      readdirSync(gitDir).filter((f) => f.endsWith('.lock')),
      [],
    );
  },
  { content: 'reset', timeoutMs: T },
);

for (const [step, pattern] of [
  ['fetch', /\] lock: acquired/],
  ['dependencies', /\] checkout: slot [ab] at/],
  ['health gate', /\] start: slot [ab] through the server agent/],
] as const) {
  e2e(
    test,
    `kill -9 during the ${step}: the next sync ends on a served, aligned mirror`,
    async (fx) => {
      await install(fx);
      const sha = await fx.push({ 'content.txt': `survived the ${step}\n` });
      await killSyncWhen(fx, pattern);
      const r = await syncJson(fx);
      assert.ok(['updated', 'noop'].includes(r.out.status), r.out.message);
      assert.is(r.out.sha, sha);
      assert.is(r.out.goodSha, sha);
      assert.is((await fx.get()).body, `site says: survived the ${step}\n`);
      assert.is(await sh(fx.worktree, 'git', ['status', '--porcelain']), '');
      assert.is(await sh(fx.worktree, 'git', ['rev-parse', 'HEAD']), sha);
    },
    { content: `kill at ${step}`, timeoutMs: T },
  );
}

e2e(
  test,
  'an error message full of shell metacharacters is stored safely',
  async (fx) => {
    const good = await install(fx);
    const evil = join(fx.root, 'forge $(touch PWNED1) `touch PWNED2` "q" \'s\' ;touch PWNED3.git');
    await sh(fx.canonical, 'git', ['remote', 'set-url', 'origin', evil]);
    const r = await syncJson(fx);
    assert.is(r.out.status, 'error');
    assert.match(r.out.message, '$(touch PWNED1)');
    const env = join(fx.siteDir(), 'last-sync.env');
    const out = await run(
      'bash',
      ['-c', 'set -eu; source "$1"; printf "%s\\n%s" "$LAST_SYNC_MESSAGE" "$LAST_GOOD_SHA"', 'x', env],
      { cwd: fx.root },
    );
    const [message, goodSha] = out.stdout.split('\n');
    assert.is(message, r.out.message, 'bash reads the message back exactly');
    assert.is(goodSha, good);
    for (const f of ['PWNED1', 'PWNED2', 'PWNED3.git']) {
      assert.not.ok(existsSync(join(fx.root, f)) || existsSync(join(fx.siteDir(), f)), `${f} was not created`);
    }
    assert.is((await fx.get()).body, 'site says: quoting\n');
  },
  { content: 'quoting', timeoutMs: T },
);

test.run();
