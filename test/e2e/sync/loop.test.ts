/** The whole loop on the process backend: install → served → main moves → sync → served. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  existsSync,
  readFileSync,
  statSync,
  writeFileSync,
  rmSync,
  readdirSync,
  readlinkSync,
  symlinkSync,
  realpathSync,
} from 'node:fs';
import { join } from 'node:path';
import { sh, waitFor, type Fixture } from '../../helpers/fixture.js';
import { e2e } from '../../helpers/e2e.js';
import { run, isAlive } from '../../helpers/proc.js';
import { packageJson } from '../../helpers/site.js';

const T = 120_000;

async function installed(fx: Fixture): Promise<void> {
  const r = await fx.cli(fx.installArgs());
  assert.is(r.code, 0, `install failed: ${r.stdout}${r.stderr}`);
  // The sync job runs once at load; let it finish so later syncs are deterministic.
  await fx.waitForSyncs(2);
}

/** Everything about the canonical repo a user could notice. */
async function snapshot(repo: string): Promise<string> {
  const g = (...args: string[]) => sh(repo, 'git', args);
  return JSON.stringify({
    head: await g('rev-parse', 'HEAD'),
    branch: await g('symbolic-ref', 'HEAD'),
    index: await g('ls-files', '--stage'),
    status: await g('status', '--porcelain', '--untracked-files=all'),
    branches: (await g('for-each-ref', '--format=%(refname) %(objectname)', 'refs/heads'))
      .split('\n')
      .filter((l) => !l.includes('localhost-sync')),
    files: readdirSync(repo)
      .sort()
      .map((f) =>
        f === '.git' || statSync(join(repo, f)).isDirectory() ? f : `${f}:${readFileSync(join(repo, f), 'utf8')}`,
      ),
  });
}

e2e(
  test,
  'install serves main, and files on disk are as DESIGN §2 says',
  async (fx) => {
    const r = await fx.cli(fx.installArgs());
    assert.is(r.code, 0, r.stderr);
    assert.match(r.stdout, `http://127.0.0.1:${fx.port}/`);
    assert.is(r.stderr, '', 'no progress on a non-TTY stderr');
    const page = await fx.get();
    assert.is(page.status, 200);
    assert.is(page.body, 'site says: hello from main\n');
    const rec = fx.record();
    assert.is(rec?.status, 'updated');
    assert.is(rec?.sha, await sh(fx.canonical, 'git', ['rev-parse', 'origin/main']));
    assert.is(rec?.goodSha, rec?.sha);
    assert.is(rec?.deps, 'installed');
    const config = JSON.parse(readFileSync(join(fx.siteDir(), 'config.json'), 'utf8'));
    assert.is(config.repo, fx.canonical);
    assert.is(config.port, fx.port);
    assert.is(config.service, 'process');
    // Two detached worktrees; localhost-worktree is the link to the live one (no branch of ours).
    const head = await run('git', ['symbolic-ref', '-q', 'HEAD'], { cwd: fx.worktree, allowFail: true });
    assert.is(head.code, 1, 'the live slot is on a detached HEAD');
    assert.is(readlinkSync(fx.worktree), 'slots/a');
    for (const slot of ['a', 'b']) assert.ok(existsSync(join(fx.siteDir(), 'slots', slot, '.git')), `slot ${slot}`);
    for (const f of [
      'config.json',
      'last-sync.env',
      'logs/sync.log',
      'logs/server.log',
      'run/sync.pid',
      'run/server.pid',
      'run/server.json',
      'slots/a/content.txt',
    ]) {
      const mode = statSync(join(fx.siteDir(), f)).mode;
      assert.is(mode & 0o022, 0, `${f} is not group/world writable`);
    }
    assert.is(statSync(join(fx.siteDir(), 'run', 'control.sock')).mode & 0o077, 0, 'the control socket is private');
    assert.match(fx.readLog(), /fetch: origin\/main is/);
    assert.match(fx.readLog(), /deps: npm ci under Node/);
  },
  { content: 'hello from main', timeoutMs: T },
);

e2e(
  test,
  'a merged PR is served after sync; the next sync is a noop; the canonical repo is untouched',
  async (fx) => {
    // The user's work in progress: a staged edit, an unstaged edit, an untracked file, a branch.
    await sh(fx.canonical, 'git', ['checkout', '-q', '-b', 'feature']);
    writeFileSync(join(fx.canonical, 'content.txt'), 'work in progress\n');
    await sh(fx.canonical, 'git', ['add', 'content.txt']);
    writeFileSync(join(fx.canonical, 'server.js'), '// half-done edit\n');
    writeFileSync(join(fx.canonical, 'notes.txt'), 'untracked\n');
    const before = await snapshot(fx.canonical);
    await installed(fx);
    const sha = await fx.push({ 'content.txt': 'second\n' });
    const r = await fx.cli(['sync', '--json']);
    assert.is(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.is(out.status, 'updated');
    assert.is(out.sha, sha);
    assert.is(out.targetSha, sha);
    assert.is(out.goodSha, sha);
    assert.is(out.failedSha, '');
    // The standby slot gets its own node_modules the first time it is prepared.
    assert.is(out.deps, 'installed', 'the standby slot was never installed');
    assert.is((await fx.get()).body, 'site says: second\n');
    assert.is(fx.record()?.status, 'updated');
    assert.is(fx.record()?.sha, sha);
    const third = await fx.push({ 'content.txt': 'third\n' });
    const next = JSON.parse((await fx.cli(['sync', '--json'])).stdout);
    assert.is(next.status, 'updated');
    assert.is(next.sha, third);
    assert.is(next.deps, 'skipped', 'the lockfile did not change');
    const again = JSON.parse((await fx.cli(['sync', '--json'])).stdout);
    assert.is(again.status, 'noop');
    assert.is(again.sha, third);
    assert.is(await snapshot(fx.canonical), before, 'HEAD, branch, index, files and branches are unchanged');
  },
  { content: 'first', timeoutMs: T },
);

e2e(
  test,
  'a site whose .gitignore does not list node_modules: each slot keeps its dependencies, and a served main is a noop',
  async (fx) => {
    // npm ci's node_modules are the slot's, not the commit's: they must not make the live
    // slot look edited (a swap every sync), nor be cleaned out of a standby (npm ci every swap).
    await fx.push({ '.gitignore': null }, 'no .gitignore');
    await installed(fx);
    const first = JSON.parse((await fx.cli(['sync', '--json'])).stdout);
    assert.is(first.status, 'noop', first.message);
    const second = JSON.parse((await fx.cli(['sync', '--json'])).stdout);
    assert.is(second.status, 'noop', second.message);
    await fx.push({ 'content.txt': 'second\n' });
    const b = JSON.parse((await fx.cli(['sync', '--json'])).stdout);
    assert.is(b.status, 'updated', b.message);
    assert.is(b.deps, 'installed', 'the standby slot was never installed');
    await fx.push({ 'content.txt': 'third\n' });
    const a = JSON.parse((await fx.cli(['sync', '--json'])).stdout);
    assert.is(a.status, 'updated', a.message);
    assert.is(a.deps, 'skipped', 'the first slot kept its node_modules through checkout and clean');
    assert.is((await fx.get()).body, 'site says: third\n');
    assert.is(JSON.parse((await fx.cli(['sync', '--json'])).stdout).status, 'noop');
    const doctor = await fx.cli(['doctor', '--json', '--no-network']);
    const report = JSON.parse(doctor.stdout) as { checks: { id: string; status: string; summary: string }[] };
    const clean = report.checks.find((c) => c.id === 'worktree-clean');
    assert.is(clean?.status, 'ok', clean?.summary);
    // A file the commit does not have is still an edit, node_modules or not.
    writeFileSync(join(fx.worktree, 'scratch.txt'), 'stray\n');
    const dirty = JSON.parse((await fx.cli(['sync', '--json'])).stdout);
    assert.is(dirty.status, 'updated', 'an untracked file in the live slot still counts');
  },
  { timeoutMs: T },
);

e2e(
  test,
  'edits and untracked files in the mirror are cleaned by the next sync',
  async (fx) => {
    await installed(fx);
    writeFileSync(join(fx.worktree, 'content.txt'), 'someone edited the mirror\n');
    writeFileSync(join(fx.worktree, 'stray.txt'), 'stray\n');
    const r = await fx.cli(['sync', '--json']);
    assert.is(JSON.parse(r.stdout).status, 'updated');
    assert.not.ok(existsSync(join(fx.worktree, 'stray.txt')));
    assert.is(readFileSync(join(fx.worktree, 'content.txt'), 'utf8'), 'clean me\n');
    assert.is((await fx.get()).body, 'site says: clean me\n');
    assert.ok(existsSync(join(fx.worktree, 'node_modules', 'greeting')), 'ignored node_modules stays');
  },
  { content: 'clean me', timeoutMs: T },
);

e2e(
  test,
  'npm ci runs when the lockfile changes and is skipped when it does not',
  async (fx) => {
    await installed(fx);
    // A second local dependency: a new package.json and a new lockfile from real npm.
    const extra = {
      'vendor/extra/package.json': JSON.stringify({ name: 'extra', version: '1.0.0' }),
      'vendor/extra/index.js': 'module.exports = 1;\n',
    };
    for (const [p, c] of Object.entries(extra)) {
      const full = join(fx.upstream, p);
      (await import('node:fs')).mkdirSync(join(full, '..'), { recursive: true });
      writeFileSync(full, c);
    }
    writeFileSync(
      join(fx.upstream, 'package.json'),
      packageJson({ dependencies: { greeting: 'file:vendor/greeting', extra: 'file:vendor/extra' } }),
    );
    await run('npm', ['install', '--package-lock-only', '--offline', '--no-audit', '--no-fund'], {
      cwd: fx.upstream,
    });
    const sha = await fx.push({});
    const r = JSON.parse((await fx.cli(['sync', '--json'])).stdout);
    assert.is(r.status, 'updated');
    assert.is(r.sha, sha);
    assert.is(r.deps, 'installed');
    assert.ok(existsSync(join(fx.worktree, 'node_modules', 'extra')), 'the new dependency is installed');
    // Each slot keeps its own node_modules: the new lockfile is installed once in each slot,
    // and from then on a content-only commit installs nothing.
    await fx.push({ 'content.txt': 'other slot\n' });
    const r2 = JSON.parse((await fx.cli(['sync', '--json'])).stdout);
    assert.is(r2.status, 'updated');
    assert.is(r2.deps, 'installed');
    await fx.push({ 'content.txt': 'content only\n' });
    const r3 = JSON.parse((await fx.cli(['sync', '--json'])).stdout);
    assert.is(r3.status, 'updated');
    assert.is(r3.deps, 'skipped');
    assert.is((await fx.get()).body, 'site says: content only\n');
    const log = fx.readLog();
    assert.match(log, /deps: skipped: lockfile and Node .* unchanged/);
  },
  { content: 'deps', timeoutMs: T },
);

e2e(
  test,
  'a site without package.json deploys, and then its syncs are noops',
  async (fx) => {
    const r = await fx.cli(fx.installArgs({ command: 'node server.js --host {host} --port {port}' }));
    assert.is(r.code, 0, r.stderr);
    await fx.waitForSyncs(2);
    const plain = (await import('../../helpers/site.js')).SERVER_JS.replace(
      "const greeting = require('greeting');",
      'const greeting = { greet: (s) => "plain: " + s };',
    );
    const sha = await fx.push({
      'package.json': null,
      'package-lock.json': null,
      'server.js': plain,
      'content.txt': 'no npm\n',
    });
    const first = JSON.parse((await fx.cli(['sync', '--json'])).stdout);
    assert.is(first.status, 'updated', first.message);
    assert.is(first.sha, sha);
    assert.is((await fx.get()).body, 'plain: no npm\n');
    const second = JSON.parse((await fx.cli(['sync', '--json'])).stdout);
    assert.is(second.status, 'noop', 'nothing to install is current, not a reason to restart');
  },
  { content: 'with npm', timeoutMs: T },
);

e2e(
  test,
  'install through a symlink to the clone records the real path',
  async (fx) => {
    const link = join(fx.home, 'site-link');
    symlinkSync(fx.canonical, link);
    const r = await fx.cli(fx.installArgs({ repo: link, name: 'site' }));
    assert.is(r.code, 0, r.stderr);
    const config = JSON.parse(readFileSync(join(fx.siteDir(), 'config.json'), 'utf8'));
    assert.is(config.repo, realpathSync(fx.canonical));
    assert.is((await fx.get()).body, 'site says: linked\n');
  },
  { content: 'linked', timeoutMs: T },
);

e2e(
  test,
  'a deleted slot is recreated by the next sync, and a deleted link repaired',
  async (fx) => {
    await installed(fx);
    // The live slot's folder, gone from under its server.
    rmSync(realpathSync(fx.worktree), { recursive: true, force: true });
    const r = JSON.parse((await fx.cli(['sync', '--json'])).stdout);
    assert.is(r.status, 'updated', r.message);
    assert.ok(existsSync(join(fx.worktree, '.git')));
    assert.is((await fx.get()).body, 'site says: phoenix\n');
    assert.match(fx.readLog(), /repair: created slot a at/);
    // The link itself, gone: the next sync points it at the live slot again.
    rmSync(fx.worktree, { force: true });
    const again = JSON.parse((await fx.cli(['sync', '--json'])).stdout);
    assert.is(again.status, 'noop', again.message);
    assert.match(readlinkSync(fx.worktree), /^slots\/[ab]$/);
    assert.match(fx.readLog(), /repair: pointed localhost-worktree at slot/);
  },
  { content: 'phoenix', timeoutMs: T },
);

e2e(
  test,
  're-running install with the same flags changes and restarts nothing',
  async (fx) => {
    await installed(fx);
    const pid = fx.serverPid();
    const configTime = statSync(join(fx.siteDir(), 'config.json')).mtimeMs;
    const r = await fx.cli(fx.installArgs());
    assert.is(r.code, 0, r.stderr);
    assert.match(r.stdout, /sync every 3600 s: unchanged/);
    assert.match(r.stdout, /Verdict: ok/);
    assert.match(r.stdout, /config\.json \(unchanged\)/);
    assert.is(fx.serverPid(), pid, 'the server was not restarted');
    assert.is(statSync(join(fx.siteDir(), 'config.json')).mtimeMs, configTime);
    assert.is(fx.record()?.status, 'noop');
  },
  { content: 'steady', timeoutMs: T },
);

e2e(
  test,
  'the sync job serves a pushed commit after one interval, with no manual step',
  async (fx) => {
    const r = await fx.cli(['install', '--repo', fx.canonical, '--port', String(fx.port), '--interval', '10']);
    assert.is(r.code, 0, r.stderr);
    await fx.waitForSyncs(2);
    const sha = await fx.push({ 'content.txt': 'after\n' });
    await waitFor(
      async () => (await fx.get()).body === 'site says: after\n',
      30_000,
      'the sync job to serve the new commit',
    );
    await waitFor(() => fx.record()?.goodSha === sha, 10_000, 'the record of that sync');
    assert.match(fx.readLog(), `done: updated sha=${sha.slice(0, 7)}`);
  },
  { content: 'before', timeoutMs: T },
);

e2e(
  test,
  'uninstall frees the port; --purge removes the mirror, its branch and the folder',
  async (fx) => {
    await installed(fx);
    const pids = [fx.serverPid(), Number(readFileSync(join(fx.siteDir(), 'run', 'sync.pid'), 'utf8'))];
    const r = await fx.cli(['uninstall']);
    assert.is(r.code, 0, r.stderr);
    assert.not.ok(await fx.isUp(), 'nothing answers on the port');
    for (const pid of pids) assert.not.ok(isAlive(pid), `pid ${pid} is gone`);
    assert.ok(existsSync(fx.worktree), 'without --purge the mirror stays');
    // Nothing may start what uninstall stopped; install brings the site back.
    // An uninstalled site no longer counts for name resolution; named, it says what happened.
    assert.match((await fx.cli(['sync'])).stderr, /No site is installed yet/);
    for (const command of ['sync', 'run']) {
      const refused = await fx.cli([command, '--name', 'site']);
      assert.is(refused.code, 2, `${command} after uninstall`);
      assert.match(refused.stderr, /was uninstalled, so nothing may start its server\. Run localhost-ops install/);
      assert.match(refused.stderr, `--port ${fx.port}`, 'the fix reproduces the installed flags');
    }
    assert.not.ok(await fx.isUp(), 'still nothing on the port');
    const back = await fx.cli(fx.installArgs());
    assert.is(back.code, 0, back.stderr);
    assert.is((await fx.get()).body, 'site says: bye\n');
    const before = await sh(fx.canonical, 'git', ['rev-parse', 'HEAD']);
    const p = await fx.cli(['uninstall', '--purge']);
    assert.is(p.code, 0, p.stderr);
    assert.not.ok(existsSync(fx.siteDir()));
    assert.is(await sh(fx.canonical, 'git', ['branch', '--list', 'localhost-sync']), '');
    assert.is(
      await sh(fx.canonical, 'git', ['worktree', 'list', '--porcelain']).then((t) => t.split('\n\n').length),
      1,
    );
    assert.is(await sh(fx.canonical, 'git', ['rev-parse', 'HEAD']), before);
  },
  { content: 'bye', timeoutMs: T },
);

test.run();
