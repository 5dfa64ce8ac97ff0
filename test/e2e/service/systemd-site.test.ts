/**
 * A whole site on the systemd backend, against a real `systemd --user` (DESIGN §4, §8):
 * install picks systemd by itself, both units run the agents, systemd restarts a killed
 * one, a new user manager (a reboot, as far as the jobs can tell) brings the site back with
 * no command of ours, re-install restarts nothing, uninstall leaves no unit.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { e2e } from '../../helpers/e2e.js';
import { waitFor, type Fixture } from '../../helpers/fixture.js';
import { killQuietly } from '../../helpers/proc.js';
import { startUserManager, type UserManager } from '../../helpers/systemd.js';

const site = suite('systemd: a whole site');

const unit = (kind: 'sync' | 'server') => `localhost-ops-site-${kind}.service`;

async function mainPid(m: UserManager, kind: 'sync' | 'server'): Promise<number> {
  return Number((await m.show(unit(kind), ['MainPID'])).MainPID);
}

async function served(fx: Fixture, body: string): Promise<void> {
  await waitFor(async () => (await fx.get()).body === body, 30_000, `the page to show ${JSON.stringify(body)}`);
}

e2e(
  site,
  'install picks systemd, serves main, follows it; systemd restarts a killed agent and a new manager brings the site back',
  async (fx) => {
    const runtimeDir = join(fx.root, 'xdg-runtime');
    let manager = await startUserManager({ home: fx.home, runtimeDir, owned: fx.root });
    try {
      const env = { XDG_RUNTIME_DIR: runtimeDir };
      const r = await fx.cli(fx.installArgs(), env);
      assert.is(r.code, 0, r.stdout + r.stderr);
      assert.match(r.stdout, /systemd backend/);
      const config = JSON.parse(readFileSync(join(fx.siteDir(), 'config.json'), 'utf8'));
      assert.is(config.service, 'systemd', 'auto picked systemd where a user manager runs');
      for (const kind of ['sync', 'server'] as const) {
        const p = await manager.show(unit(kind), ['ActiveState', 'UnitFileState']);
        assert.equal(p, { ActiveState: 'active', UnitFileState: 'enabled' }, kind);
        assert.ok(existsSync(join(fx.home, '.config', 'systemd', 'user', unit(kind))));
      }
      await served(fx, 'site says: hello from main\n');

      // A pushed commit, served after sync.
      await fx.push({ 'content.txt': 'on systemd\n' });
      assert.is((await fx.cli(['sync'], env)).code, 0);
      await served(fx, 'site says: on systemd\n');

      // kill -9 of the server agent: Restart=always brings it back, and it serves again.
      const server = await mainPid(manager, 'server');
      killQuietly(server, 'SIGKILL');
      await waitFor(
        async () => ((await mainPid(manager, 'server')) || server) !== server,
        20_000,
        'a new server agent',
      );
      await served(fx, 'site says: on systemd\n');

      // Re-install with the same flags restarts nothing.
      const pids = [await mainPid(manager, 'sync'), await mainPid(manager, 'server')];
      const again = await fx.cli(fx.installArgs(), env);
      assert.is(again.code, 0, again.stdout + again.stderr);
      assert.equal([await mainPid(manager, 'sync'), await mainPid(manager, 'server')], pids, 'same main pids');

      // A reboot, as far as the jobs can tell: the manager ends, a new one starts the enabled units.
      await manager.stop();
      assert.not.ok(await fx.isUp(), 'the site went down with its manager');
      manager = await startUserManager({ home: fx.home, runtimeDir, owned: fx.root });
      await served(fx, 'site says: on systemd\n');

      // uninstall: no unit left, the port free.
      const u = await fx.cli(['uninstall', '--purge'], env);
      assert.is(u.code, 0, u.stdout + u.stderr);
      for (const kind of ['sync', 'server'] as const) {
        assert.not.ok(existsSync(join(fx.home, '.config', 'systemd', 'user', unit(kind))), `${kind} unit removed`);
        assert.is((await manager.show(unit(kind), ['LoadState'])).LoadState, 'not-found');
      }
      assert.not.ok(await fx.isUp(), 'the port is free');
    } finally {
      await manager.stop();
    }
  },
  { timeoutMs: 180_000 },
);

site.run();
