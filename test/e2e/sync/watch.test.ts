/**
 * The sync agent (`sync --watch`, DESIGN §3.2) as the process backend runs it: resident,
 * woken by a fetch in the canonical repo or SIGHUP, never ended by a failed sync, and ended
 * promptly by SIGTERM even in the middle of an npm ci.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { e2e } from '../../helpers/e2e.js';
import { sh, waitFor, type Fixture } from '../../helpers/fixture.js';
import { isAlive, isGroupAlive, killQuietly } from '../../helpers/proc.js';
import { packageJson } from '../../helpers/site.js';

const agent = suite('sync agent');

function agentPid(fx: Fixture): number {
  return Number(readFileSync(join(fx.siteDir(), 'run', 'sync.pid'), 'utf8'));
}

async function installed(fx: Fixture): Promise<number> {
  const r = await fx.cli(fx.installArgs());
  assert.is(r.code, 0, r.stdout + r.stderr);
  await fx.waitForSyncs(2);
  const pid = agentPid(fx);
  assert.ok(isAlive(pid), 'the sync agent runs');
  return pid;
}

e2e(agent, 'a fetch in the canonical repo brings the new main without waiting for the interval', async (fx) => {
  await installed(fx);
  const sha = await fx.push({ 'content.txt': 'pulled\n' });
  // What `git pull` or an editor's auto-fetch does to the canonical repo.
  await sh(fx.canonical, 'git', ['fetch', '-q', 'origin']);
  await waitFor(async () => (await fx.get()).body === 'site says: pulled\n', 15_000, 'the new main to be served');
  assert.is(fx.record()?.sha, sha);
  assert.match(fx.readLog(), /agent: woken: origin\/main moved to/);
});

/**
 * A manual sync that ends with `want`; its fetch wakes the agent, which then leaves that
 * main alone: one finished sync in the log, the manual one.
 */
async function syncBeforeTheAgent(fx: Fixture, want: string): Promise<void> {
  const from = fx.readLog().length;
  const r = await fx.cli(['sync', '--json']);
  assert.is(JSON.parse(r.stdout).status, want, r.stdout + r.stderr);
  const settled = /woken by another sync's fetch, which has settled that main since: nothing to do/;
  await waitFor(() => settled.test(fx.readLog().slice(from)), 15_000, `the agent to leave the ${want} main alone`);
  const since = fx.readLog().slice(from);
  assert.is((since.match(/\] done: /g) ?? []).length, 1, `one sync, the manual one:\n${since}`);
}

e2e(agent, "a manual sync's fetch wakes the agent, which does not judge that main again", async (fx) => {
  const pid = await installed(fx);
  const bad = await fx.push({ STATUS: '500' }, 'answer 500');
  await syncBeforeTheAgent(fx, 'rolled-back');
  assert.is(fx.record()?.failedSha, bad);
  assert.ok(isAlive(pid));
  // A served main settles it too.
  const fixed = await fx.push({ STATUS: null, 'content.txt': 'fixed\n' }, 'fix main');
  await syncBeforeTheAgent(fx, 'updated');
  assert.is(fx.record()?.sha, fixed);
});

e2e(agent, 'SIGHUP syncs at once', async (fx) => {
  const pid = await installed(fx);
  const sha = await fx.push({ 'content.txt': 'hup\n' });
  killQuietly(pid, 'SIGHUP');
  await waitFor(() => fx.record()?.sha === sha, 15_000, 'a sync after SIGHUP');
  assert.match(fx.readLog(), /agent: woken: SIGHUP/);
  assert.ok(isAlive(pid));
});

e2e(agent, 'a failed sync never ends the agent, and the next trigger syncs again', async (fx) => {
  const pid = await installed(fx);
  const forge = fx.forge;
  renameSync(forge, `${forge}.away`);
  const before = fx.countSyncs();
  killQuietly(pid, 'SIGHUP');
  await waitFor(() => fx.countSyncs() > before, 15_000, 'the failing sync');
  assert.is(fx.record()?.status, 'error');
  assert.match(fx.record()?.message ?? '', /Could not fetch origin\/main/);
  assert.ok(isAlive(pid), 'still running after an error');
  renameSync(`${forge}.away`, forge);
  const sha = await fx.push({ 'content.txt': 'back\n' });
  killQuietly(pid, 'SIGHUP');
  await waitFor(() => fx.record()?.sha === sha, 15_000, 'a sync once the forge is back');
});

e2e(agent, 'SIGTERM during npm ci ends the agent and npm promptly; that slot counts as not installed', async (fx) => {
  const pid = await installed(fx);
  // A postinstall that takes 30 s keeps npm ci busy long enough to be caught.
  const pkg = JSON.parse(packageJson()) as Record<string, unknown>;
  pkg.scripts = { dev: 'node server.js', postinstall: 'node -e "setTimeout(() => {}, 30000)"' };
  await fx.push({ 'package.json': JSON.stringify(pkg, null, 2) + '\n' });
  killQuietly(pid, 'SIGHUP');
  await waitFor(
    () => /deps: npm ci under Node/.test(fx.readLog().split('woken: SIGHUP')[1] ?? ''),
    20_000,
    'npm ci to start',
  );
  // The log line comes just before the spawn, the lock's second line (npm's group) just after.
  let npmGroup = 0;
  await waitFor(
    () => (npmGroup = Number(readFileSync(join(fx.siteDir(), 'sync.lock'), 'utf8').split('\n')[1])) > 0,
    5000,
    "npm ci's group in the lock",
  );
  assert.ok(isGroupAlive(npmGroup), 'npm ci runs in its own group');
  const stopped = Date.now();
  killQuietly(pid, 'SIGTERM');
  await waitFor(() => !isAlive(pid), 5000, 'the agent to exit');
  assert.ok(Date.now() - stopped < 5000);
  await waitFor(() => !isGroupAlive(npmGroup), 5000, 'npm ci to be ended');
  const state = JSON.parse(readFileSync(join(fx.siteDir(), 'run', 'server.json'), 'utf8')) as { live: 'a' | 'b' };
  const standby = state.live === 'a' ? 'b' : 'a';
  assert.not.ok(
    existsSync(join(fx.siteDir(), 'slots', standby, 'node_modules', '.localhost-ops-deps.json')),
    'no deps stamp',
  );
  // The live slot kept serving throughout.
  assert.is((await fx.get()).body, 'site says: hello from main\n');
  // And the next sync recovers: it takes over the dead agent's lock and installs that slot again.
  const next = await fx.cli(['sync', '--json']);
  assert.is(next.code, 0, next.stdout + next.stderr);
  assert.is(JSON.parse(next.stdout).deps, 'installed');
});

e2e(
  agent,
  'consecutive errors double the wait (from the interval, at most 10 x), and a success resets it',
  async (fx) => {
    const r = await fx.cli(fx.installArgs({ interval: '10' }));
    assert.is(r.code, 0, r.stdout + r.stderr);
    await fx.waitForSyncs(2);
    const pid = agentPid(fx);
    renameSync(fx.forge, `${fx.forge}.away`);
    killQuietly(pid, 'SIGHUP');
    await waitFor(() => /next sync in 20 s \(1 error in a row\)/.test(fx.readLog()), 20_000, 'the first backoff');
    // Not woken: the timed sync after 20 s fails again, and the wait doubles.
    await waitFor(() => /next sync in 40 s \(2 errors in a row\)/.test(fx.readLog()), 40_000, 'the doubled backoff');
    renameSync(`${fx.forge}.away`, fx.forge);
    const sha = await fx.push({ 'content.txt': 'after the backoff\n' });
    const before = fx.countSyncs();
    killQuietly(pid, 'SIGHUP');
    await waitFor(() => fx.record()?.sha === sha, 20_000, 'a sync once the forge is back');
    // The success resets it: the next timed sync comes after the interval again.
    await waitFor(() => fx.countSyncs() >= before + 2, 25_000, 'the next timed sync, one interval later');
    assert.is((await fx.get()).body, 'site says: after the backoff\n');
  },
  { timeoutMs: 150_000 },
);

agent.run();
