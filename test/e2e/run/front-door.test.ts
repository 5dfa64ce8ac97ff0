/**
 * The front door when nothing good can serve, and what it refuses (DESIGN §9); the slots'
 * life on disk: a first release migrated, two sites from one clone, a sync killed between
 * its checkout and its switch (DESIGN §2, §3).
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, lstatSync, mkdirSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { e2e } from '../../helpers/e2e.js';
import { sh, waitFor } from '../../helpers/fixture.js';
import { getFreePort, killQuietly, isAlive } from '../../helpers/proc.js';
import { getPage } from '../../helpers/poller.js';

const door = suite('front door');

/** The front door's answer, given a Host or an Accept; 20 s for a request that waits out a switch. */
const get = (port: number, headers: Record<string, string>) => getPage(port, headers, 20_000);

e2e(
  door,
  'a first install on a main that crashes: 503 with an explanation, then served once a good commit lands',
  async (fx) => {
    // The server prints HTML-looking text: the page must show it escaped, never as markup.
    const crash = `console.error('<script>alert("x")</script> & boom'); process.exit(4);\n`;
    const bad = await fx.push({ 'server.js': crash });
    const r = await fx.cli(fx.installArgs());
    assert.is(r.code, 1, r.stdout);
    assert.match(r.stdout, /not serving main/);
    const page = await get(fx.port, { accept: 'text/html' });
    assert.is(page.status, 503);
    assert.is(page.headers['retry-after'], '3');
    assert.match(page.body, /<meta http-equiv="refresh"/);
    assert.match(page.body, bad.slice(0, 7));
    assert.match(page.body, /&lt;script&gt;alert\(&quot;x&quot;\)&lt;\/script&gt; &amp; boom/);
    assert.not.match(page.body, /<script>alert/);
    assert.match(page.body, /localhost-ops doctor --name site/);
    const plain = await get(fx.port, {});
    assert.is(plain.status, 503);
    assert.match(plain.body, /^localhost-ops: site: /);
    // The jobs stay installed, and the next commit on main is tried.
    const good = await fx.push({
      'server.js': (await import('../../helpers/site.js')).SERVER_JS,
      'content.txt': 'fixed\n',
    });
    const s = await fx.cli(['sync', '--json']);
    assert.is(s.code, 0, s.stdout + s.stderr);
    assert.is(JSON.parse(s.stdout).sha, good);
    const served = await get(fx.port, {});
    assert.is(served.status, 200);
    assert.is(served.body, 'site says: fixed\n');
  },
);

e2e(door, 'a foreign Host is refused with 403 (DNS rebinding); loopback names pass', async (fx) => {
  assert.is((await fx.cli(fx.installArgs())).code, 0);
  assert.is((await get(fx.port, { host: `evil.example:${fx.port}` })).status, 403);
  assert.is((await get(fx.port, { host: `127.0.0.1:${fx.port + 1}` })).status, 403);
  assert.is((await get(fx.port, { host: `localhost:${fx.port}` })).status, 200);
  assert.is((await get(fx.port, { host: `[::1]:${fx.port}` })).status, 200);
  assert.is((await get(fx.port, { host: `app.localhost:${fx.port}` })).status, 200);
});

e2e(door, 'a first-release site (single worktree on localhost-sync) is migrated by the next sync', async (fx) => {
  assert.is((await fx.cli(fx.installArgs())).code, 0);
  await fx.waitForSyncs(2);
  assert.is((await fx.cli(['uninstall', '--purge'])).code, 0);
  // The first release's layout, by hand: the mirror on a localhost-sync branch, its server job on the port.
  const site = fx.siteDir();
  const old = join(site, 'localhost-worktree');
  mkdirSync(site, { recursive: true });
  await sh(fx.canonical, 'git', ['worktree', 'add', '-q', '-B', 'localhost-sync', old, 'origin/main']);
  assert.is((await fx.cli(fx.installArgs())).code, 0);
  assert.ok(lstatSync(old).isSymbolicLink(), 'localhost-worktree became the link');
  assert.match(readlinkSync(old), /^slots\/[ab]$/);
  const branches = await sh(fx.canonical, 'git', ['branch', '--list']);
  assert.not.match(branches, /localhost-sync/);
  const worktrees = await sh(fx.canonical, 'git', ['worktree', 'list', '--porcelain']);
  assert.not.match(worktrees, /localhost-worktree\n/);
  assert.match(fx.readLog(), /migrate: removed the first release's single worktree/);
  assert.is((await get(fx.port, {})).body, 'site says: hello from main\n');
});

e2e(
  door,
  'two sites from one clone (main and staging) serve side by side, and no branch of ours is created',
  async (fx) => {
    await sh(fx.upstream, 'git', ['push', '-q', 'origin', 'HEAD:staging']);
    await fx.push({ 'content.txt': 'main only\n' });
    const before = await sh(fx.canonical, 'git', ['for-each-ref', '--format=%(refname)', 'refs/heads']);
    assert.is((await fx.cli(fx.installArgs({ name: 'main' }))).code, 0);
    const port2 = await getFreePort();
    const r = await fx.cli(fx.installArgs({ name: 'staging', branch: 'staging', port: String(port2) }));
    assert.is(r.code, 0, r.stdout + r.stderr);
    assert.is((await get(fx.port, {})).body, 'site says: main only\n');
    assert.is((await get(port2, {})).body, 'site says: hello from main\n');
    assert.is(await sh(fx.canonical, 'git', ['for-each-ref', '--format=%(refname)', 'refs/heads']), before);
    for (const name of ['main', 'staging']) assert.is((await fx.cli(['uninstall', '--name', name, '--purge'])).code, 0);
  },
);

e2e(door, 'a sync killed between checkout and switch is followed by a sync that serves the new commit', async (fx) => {
  assert.is((await fx.cli(fx.installArgs())).code, 0);
  await fx.waitForSyncs(2);
  // A slow gate: the new main's server waits 3 s before it listens, so the sync is caught mid-gate.
  const slow = `setTimeout(() => require('./server-main.js'), 3000);\n`;
  const { SERVER_JS } = await import('../../helpers/site.js');
  const sha = await fx.push({ 'server.js': slow, 'server-main.js': SERVER_JS, 'content.txt': 'after kill\n' });
  const { spawn } = await import('node:child_process');
  const sync = spawn(process.execPath, [(await import('../../helpers/fixture.js')).BIN, 'sync'], {
    env: fx.env,
    cwd: fx.root,
    stdio: 'ignore',
    detached: true,
  });
  await waitFor(
    () => /start: slot [ab] through the server agent/.test(fx.readLog()),
    30_000,
    'the sync to reach its gate',
  );
  killQuietly(-(sync.pid as number), 'SIGKILL');
  await waitFor(() => !isAlive(sync.pid as number), 5000, 'the sync to die');
  const r = await fx.cli(['sync', '--json']);
  assert.is(r.code, 0, r.stdout + r.stderr);
  const out = JSON.parse(r.stdout);
  assert.is(out.status, 'updated', out.message);
  assert.is(out.sha, sha);
  assert.is((await get(fx.port, {})).body, 'site says: after kill\n');
  assert.ok(existsSync(join(fx.siteDir(), 'slots', 'a')) && existsSync(join(fx.siteDir(), 'slots', 'b')));
});

door.run();
