/**
 * `restart`: the live dev server restarted through a swap (DESIGN §1): a visitor polling
 * every 20 ms sees no failed request, a new server serves the same commit from the other
 * slot, and the second site is not touched.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { e2e } from '../../helpers/e2e.js';
import { waitFor, type Fixture } from '../../helpers/fixture.js';
import { getFreePort, isAlive } from '../../helpers/proc.js';
import { startPoller, describeStats } from '../../helpers/poller.js';

const restart = suite('manage: restart');

interface ServerState {
  live: 'a' | 'b' | null;
  slots: Record<'a' | 'b', { phase: string; pid: number | null; sha: string | null }>;
}

function serverState(fx: Fixture, name = 'site'): ServerState {
  return JSON.parse(readFileSync(join(fx.siteDir(name), 'run', 'server.json'), 'utf8')) as ServerState;
}

e2e(
  restart,
  'restart under a 20 ms poller: no failed request, a fresh server on the other slot, the other site untouched',
  async (fx) => {
    assert.is((await fx.cli(fx.installArgs({ name: 'site' }))).code, 0);
    const otherPort = await getFreePort();
    assert.is((await fx.cli(fx.installArgs({ name: 'other', port: String(otherPort) }))).code, 0);
    await fx.waitForSyncs(2, 'site');
    const before = serverState(fx);
    const live = before.live as 'a' | 'b';
    const oldPid = before.slots[live].pid as number;
    const otherBefore = serverState(fx, 'other');
    const otherPid = otherBefore.slots[otherBefore.live as 'a' | 'b'].pid;

    const poller = startPoller(fx.port);
    const otherPoller = startPoller(otherPort);
    let r;
    try {
      await new Promise((r) => setTimeout(r, 300));
      r = await fx.cli(['restart', '--name', 'site']);
      await new Promise((r) => setTimeout(r, 300));
    } finally {
      await Promise.all([poller.stop(), otherPoller.stop()]);
    }
    assert.is(r.code, 0, r.stdout + r.stderr);
    assert.match(
      r.stdout,
      /^Restarted "site": a fresh dev server \(slot [ab]\) serves [0-9a-f]{7} at http:\/\/127\.0\.0\.1:\d+\/\.\n$/,
    );
    const s = poller.stats;
    const o = otherPoller.stats;
    assert.is(s.failed + s.errors, 0, describeStats(s));
    assert.ok(s.total > 10, describeStats(s));
    assert.equal(s.bodies, ['site says: hello from main\n'], describeStats(s));
    assert.is(o.failed + o.errors, 0, describeStats(o));

    const after = serverState(fx);
    const now = after.live as 'a' | 'b';
    assert.is.not(now, live, 'the other slot serves now');
    assert.is(after.slots[now].sha, before.slots[live].sha);
    assert.is.not(after.slots[now].pid, oldPid);
    await waitFor(() => !isAlive(oldPid), 15_000, 'the old dev server to stop');
    const otherAfter = serverState(fx, 'other');
    assert.is(otherAfter.slots[otherAfter.live as 'a' | 'b'].pid, otherPid, 'the other site kept its server');
    assert.match(fx.readLog(), /restart switch: slot [ab] is live/);
    // The next sync finds the swapped slot serving main: nothing to do.
    const sync = JSON.parse((await fx.cli(['sync', '--name', 'site', '--json'])).stdout) as { status: string };
    assert.is(sync.status, 'noop');
  },
  { timeoutMs: 240_000 },
);

e2e(
  restart,
  'a restart whose new server fails its gate exits 1, names the logs, and the live server keeps serving',
  async (fx) => {
    assert.is((await fx.cli(fx.installArgs({ name: 'site' }))).code, 0);
    // After one restart both slots hold node_modules; break the standby's copy behind its stamp.
    assert.is((await fx.cli(['restart'])).code, 0);
    const state = serverState(fx);
    const standby = state.live === 'a' ? 'b' : 'a';
    // node_modules/greeting is npm's link to vendor/greeting (a file: dependency): replace the link.
    const greeting = join(fx.siteDir(), 'slots', standby, 'node_modules', 'greeting');
    rmSync(greeting, { recursive: true, force: true });
    mkdirSync(greeting);
    writeFileSync(join(greeting, 'package.json'), JSON.stringify({ name: 'greeting', version: '1.0.0' }));
    writeFileSync(join(greeting, 'index.js'), "throw new Error('broken standby');\n");
    const poller = startPoller(fx.port);
    let r;
    try {
      r = await fx.cli(['restart']);
    } finally {
      await poller.stop();
    }
    assert.is(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stderr, /The restart of "site" failed: .*Slot [ab] keeps serving [0-9a-f]{7}\./);
    assert.match(r.stderr, /localhost-ops logs --name site/);
    assert.is(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.is(poller.stats.failed + poller.stats.errors, 0, describeStats(poller.stats));
    assert.is(serverState(fx).live, state.live, 'the live slot did not change');
  },
  { timeoutMs: 180_000 },
);

restart.run();
