/**
 * The systemd backend (issue 12) against a real systemd: each test starts its own
 * `systemd --user` (test/helpers/systemd.ts) with HOME and XDG_RUNTIME_DIR in its temp
 * dir, and ends it after. The jobs are a tiny Node program that writes the argv, env and
 * cwd it was given to a file and stays resident, under paths holding spaces, quotes, `$`,
 * `%`, a backslash and non-ASCII, so what systemd runs is compared with the spec exactly.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { systemdBackend, getUnitDir } from '../../../src/service/systemd/index.js';
import { getUnitName } from '../../../src/service/systemd/unit.js';
import { probeSystemdUser } from '../../../src/service/systemd/systemctl.js';
import { verifyService } from '../../../src/install/validate.js';
import { diffDefinitions } from '../../../src/doctor/installed.js';
import { OpsError, UserError } from '../../../src/errors.js';
import { getSitePaths } from '../../../src/site/paths.js';
import type { JobKind, JobSpec } from '../../../src/service/jobs.js';
import type { Site, SiteConfig } from '../../../src/site/config.js';
import { waitFor, withTimeout } from '../../helpers/fixture.js';
import { isLive, startUserManager, type UserManager } from '../../helpers/systemd.js';

/** Every character systemd treats specially somewhere: in folder names and in arguments. */
const ODD_DIR = `we ird $HOME $$ %n %% "dq" 'sq' back\\slash ünï 日本`;
const ODD_ARGS = [
  'a b',
  'q"uote',
  "s'q",
  '$HOME',
  '${HOME}',
  '$$',
  '%n',
  '%%',
  'back\\slash',
  'trailing\\',
  '',
  ';',
  'tab\there',
  'new\nline',
  'ünï 日本',
];
const ODD_VALUE = `a $HOME \${X} $$ %n %% "dq" 'sq' back\\slash tab\t ünï`;

/** The job: records what it was started with, then stays (or fails at start, with --fail). */
const PROBE = `
const fs = require('node:fs');
if (process.argv.includes('--fail')) {
  console.log('starting up');
  console.error('boom: the config is broken');
  process.exit(1);
}
fs.writeFileSync(process.env.PROBE_OUT, JSON.stringify({
  pid: process.pid, argv0: process.argv0, argv: process.argv.slice(1), env: process.env, cwd: process.cwd(),
}));
setInterval(() => {}, 60000);
process.on('SIGTERM', () => process.exit(0));
`;

interface Probe {
  pid: number;
  argv0: string;
  argv: string[];
  env: Record<string, string>;
  cwd: string;
}

interface World {
  root: string;
  odd: string;
  manager: UserManager;
  site: Site;
  specs: JobSpec[];
  spec(kind: JobKind): JobSpec;
  unitPath(kind: JobKind): string;
  mainPid(kind: JobKind): Promise<number>;
  probe(kind: JobKind): Probe | null;
  /** Waits until the job's probe file is from its current main process; returns it. */
  waitProbe(kind: JobKind, pid?: number): Promise<Probe>;
  cleanup(): Promise<void>;
}

async function setup(options: { fail?: boolean } = {}): Promise<World> {
  const root = mkdtempSync(join(tmpdir(), 'lops-sd-'));
  const odd = join(root, ODD_DIR);
  mkdirSync(join(odd, 'bin'), { recursive: true });
  const node = join(odd, 'bin', 'node');
  symlinkSync(process.execPath, node);
  writeFileSync(join(odd, 'probe.js'), PROBE);
  let manager: UserManager;
  try {
    // HOME among the odd characters too: the units live in $HOME/.config/systemd/user.
    manager = await startUserManager({ home: join(odd, 'home'), runtimeDir: join(root, 'run'), owned: root });
  } catch (err) {
    rmSync(root, { recursive: true, force: true });
    throw err;
  }
  const restoreEnv = manager.useEnv();
  const name = `t${Math.random().toString(36).slice(2, 8)}`;
  const opsHome = join(odd, 'ops home');
  const site: Site = {
    name,
    config: { name, service: 'systemd', interval: 3600 } as SiteConfig,
    paths: getSitePaths(name, opsHome),
  };
  const makeSpec = (kind: JobKind): JobSpec => {
    const args = [node, join(odd, 'probe.js'), kind === 'sync' ? 'sync' : 'run', '--name', name, ...ODD_ARGS];
    if (options.fail && kind === 'server') args.push('--fail');
    const spec: JobSpec = {
      kind,
      label: `localhost-ops.${name}.${kind}`,
      programArguments: args,
      workingDirectory: join(opsHome, name),
      environment: {
        HOME: manager.home,
        PATH: `${join(odd, 'bin')}:/usr/bin:/bin`,
        LOCALHOST_OPS_HOME: opsHome,
        PROBE_OUT: join(odd, `${kind}.json`),
        ODD: ODD_VALUE,
      },
      stdoutPath: join(opsHome, name, 'logs', `systemd-${kind}.log`),
      stderrPath: join(opsHome, name, 'logs', `systemd-${kind}.log`),
    };
    return kind === 'sync' ? { ...spec, interval: 3600 } : spec;
  };
  const specs = [makeSpec('sync'), makeSpec('server')];
  const world: World = {
    root,
    odd,
    manager,
    site,
    specs,
    spec: (kind) => specs.find((s) => s.kind === kind)!,
    unitPath: (kind) => join(manager.home, '.config', 'systemd', 'user', getUnitName(name, kind)),
    async mainPid(kind) {
      return Number((await manager.show(getUnitName(name, kind), ['MainPID'])).MainPID);
    },
    probe(kind) {
      try {
        return JSON.parse(readFileSync(join(odd, `${kind}.json`), 'utf8')) as Probe;
      } catch {
        return null;
      }
    },
    async waitProbe(kind, pid) {
      const want = pid ?? (await world.mainPid(kind));
      await waitFor(() => world.probe(kind)?.pid === want, 10_000, `the ${kind} job's probe from pid ${want}`);
      return world.probe(kind)!;
    },
    async cleanup() {
      restoreEnv();
      try {
        await manager.stop();
      } finally {
        rmSync(root, { recursive: true, force: true });
      }
    },
  };
  return world;
}

function assertRunsAsSpecified(probe: Probe, spec: JobSpec): void {
  assert.is(probe.argv0, spec.programArguments[0], 'argv[0]');
  assert.equal(probe.argv, spec.programArguments.slice(1), 'the arguments, exactly');
  assert.is(probe.cwd, spec.workingDirectory);
  for (const [key, value] of Object.entries(spec.environment)) assert.is(probe.env[key], value, `env ${key}`);
}

const sd = suite('systemd backend (real systemd --user)');

sd(
  'apply writes both units (0644, in the user unit folder) and runs them with exactly the spec’s argv, env and cwd',
  withTimeout(60_000, async () => {
    const w = await setup();
    try {
      const touched = await systemdBackend.apply(w.site, w.specs);
      assert.equal(touched.sort(), ['server', 'sync']);
      assert.is(getUnitDir(), join(w.manager.home, '.config', 'systemd', 'user'));
      for (const kind of ['sync', 'server'] as const) {
        const path = w.unitPath(kind);
        assert.is(systemdBackend.getDefinitionPath(w.site, kind), path);
        assert.is(statSync(path).mode & 0o777, 0o644, `${kind} unit mode`);
        const show = await w.manager.show(getUnitName(w.site.name, kind), [
          'ActiveState',
          'SubState',
          'UnitFileState',
          'Type',
          'Restart',
        ]);
        assert.equal(
          show,
          { ActiveState: 'active', SubState: 'running', UnitFileState: 'enabled', Type: 'simple', Restart: 'always' },
          kind,
        );
        assert.ok(existsSync(join(getUnitDir(), 'default.target.wants', getUnitName(w.site.name, kind))), 'enabled');
        assertRunsAsSpecified(await w.waitProbe(kind), w.spec(kind));
        // doctor reads the installed file back: the same argv, and no difference from a fresh render.
        const parsed = await systemdBackend.parseDefinition(readFileSync(path, 'utf8'));
        assert.ok(parsed);
        assert.equal(systemdBackend.getProgramArguments(parsed), w.spec(kind).programArguments);
        assert.equal(diffDefinitions(parsed, (await systemdBackend.renderDefinition(w.spec(kind)))!), []);
      }
    } finally {
      await w.cleanup();
    }
  }),
);

sd(
  'apply again with the same specs touches nothing: same main pids, files not rewritten',
  withTimeout(60_000, async () => {
    const w = await setup();
    try {
      await systemdBackend.apply(w.site, w.specs);
      const pids = [await w.mainPid('sync'), await w.mainPid('server')];
      const mtimes = [statSync(w.unitPath('sync')).mtimeMs, statSync(w.unitPath('server')).mtimeMs];
      assert.equal(await systemdBackend.apply(w.site, w.specs), []);
      assert.equal([await w.mainPid('sync'), await w.mainPid('server')], pids);
      assert.equal([statSync(w.unitPath('sync')).mtimeMs, statSync(w.unitPath('server')).mtimeMs], mtimes);
      const show = await w.manager.show(getUnitName(w.site.name, 'server'), ['NRestarts']);
      assert.is(show.NRestarts, '0');
    } finally {
      await w.cleanup();
    }
  }),
);

sd(
  'a changed spec restarts only its unit, which then runs with the new values',
  withTimeout(60_000, async () => {
    const w = await setup();
    try {
      await systemdBackend.apply(w.site, w.specs);
      const syncPid = await w.mainPid('sync');
      const serverPid = await w.mainPid('server');
      const server = w.spec('server');
      const changed = { ...server, environment: { ...server.environment, ODD: `${ODD_VALUE} and more %%` } };
      assert.equal(await systemdBackend.apply(w.site, [w.spec('sync'), changed]), ['server']);
      assert.is(await w.mainPid('sync'), syncPid, 'the sync job was not touched');
      const newPid = await w.mainPid('server');
      assert.is.not(newPid, serverPid);
      assert.not.ok(isLive(serverPid), 'the old server process is gone');
      assertRunsAsSpecified(await w.waitProbe('server', newPid), changed);
    } finally {
      await w.cleanup();
    }
  }),
);

sd(
  'restart gives the job a new main pid; kill -9 of a main pid is undone by Restart=always',
  withTimeout(60_000, async () => {
    const w = await setup();
    try {
      await systemdBackend.apply(w.site, w.specs);
      const before = await w.mainPid('server');
      await systemdBackend.restart(w.site, w.spec('server'));
      const after = await w.mainPid('server');
      assert.is.not(after, before);
      assert.ok(await systemdBackend.isRunning(w.site, 'server'));
      await w.waitProbe('server', after);

      process.kill(after, 'SIGKILL');
      await waitFor(
        async () => {
          const pid = await w.mainPid('server');
          return pid > 0 && pid !== after;
        },
        10_000,
        'systemd to start the killed server again',
      );
      const again = await w.mainPid('server');
      assertRunsAsSpecified(await w.waitProbe('server', again), w.spec('server'));
      const show = await w.manager.show(getUnitName(w.site.name, 'server'), ['NRestarts']);
      assert.is(show.NRestarts, '1');
    } finally {
      await w.cleanup();
    }
  }),
);

sd(
  'status comes from systemctl show: pids, running, and whether the unit is what install would write',
  withTimeout(60_000, async () => {
    const w = await setup();
    try {
      const none = await systemdBackend.status(w.site, w.specs);
      assert.equal(none.server, {
        installed: false,
        running: false,
        pid: null,
        lastExit: null,
        current: false,
        detail: 'not installed',
      });
      await systemdBackend.apply(w.site, w.specs);
      const status = await systemdBackend.status(w.site, w.specs);
      for (const kind of ['sync', 'server'] as const) {
        const pid = await w.mainPid(kind);
        assert.equal(status[kind], {
          installed: true,
          running: true,
          pid,
          lastExit: null,
          current: true,
          detail: `running, pid ${pid}`,
        });
      }
      // A hand edit: no longer current, and doctor's diff names the setting.
      const path = w.unitPath('server');
      writeFileSync(path, readFileSync(path, 'utf8').replace('RestartSec=2', 'RestartSec=5'));
      const edited = await systemdBackend.status(w.site, w.specs);
      assert.is(edited.server.current, false);
      assert.is(edited.sync.current, true);
      const have = await systemdBackend.parseDefinition(readFileSync(path, 'utf8'));
      const want = await systemdBackend.renderDefinition(w.spec('server'));
      assert.equal(diffDefinitions(have!, want!), ['Service.RestartSec: 5 → 2']);
    } finally {
      await w.cleanup();
    }
  }),
);

sd(
  'remove leaves no unit, no link and no process',
  withTimeout(60_000, async () => {
    const w = await setup();
    try {
      await systemdBackend.apply(w.site, w.specs);
      const pids = [await w.mainPid('sync'), await w.mainPid('server')];
      await systemdBackend.remove(w.site);
      for (const kind of ['sync', 'server'] as const) {
        const unit = getUnitName(w.site.name, kind);
        assert.not.ok(existsSync(w.unitPath(kind)), `${kind} unit file`);
        assert.not.ok(existsSync(join(getUnitDir(), 'default.target.wants', unit)), `${kind} link`);
        const show = await w.manager.show(unit, ['LoadState', 'ActiveState']);
        assert.equal(show, { LoadState: 'not-found', ActiveState: 'inactive' });
      }
      for (const pid of pids) assert.not.ok(isLive(pid), `pid ${pid} is gone`);
      assert.equal(
        readdirSync(getUnitDir()).filter((f) => f.endsWith('.service')),
        [],
      );
      // Removing again is fine.
      await systemdBackend.remove(w.site);
    } finally {
      await w.cleanup();
    }
  }),
);

sd(
  'a unit that fails at start is one sentence with its exit and the last lines of its log',
  withTimeout(60_000, async () => {
    const w = await setup({ fail: true });
    try {
      let error: unknown = null;
      try {
        await systemdBackend.apply(w.site, w.specs);
      } catch (err) {
        error = err;
      }
      assert.instance(error, OpsError);
      const message = (error as OpsError).message;
      assert.match(message, getUnitName(w.site.name, 'server'));
      assert.match(message, 'exited with status 1');
      assert.match(message, 'starting up | boom: the config is broken');
      assert.not.match(message, '\n');
      assert.match((error as OpsError).fix, 'localhost-ops install');
      // The sync job was started all the same; status tells the server's story.
      const status = await systemdBackend.status(w.site, w.specs);
      assert.is(status.sync.running, true);
      assert.is(status.server.running, false);
    } finally {
      await w.cleanup();
    }
  }),
);

sd(
  'without a user manager: install refuses --service systemd (exit 2), and the backend names XDG_RUNTIME_DIR',
  withTimeout(60_000, async () => {
    const w = await setup();
    try {
      const probe = await probeSystemdUser();
      assert.equal(probe, { available: true, state: 'running', problem: '', fix: '' });
      verifyService({ service: 'systemd' } as SiteConfig, probe);

      const empty = join(w.root, 'no manager here');
      mkdirSync(empty);
      process.env.XDG_RUNTIME_DIR = empty;
      const none = await probeSystemdUser();
      assert.is(none.available, false);
      let refused: unknown = null;
      try {
        verifyService({ service: 'systemd' } as SiteConfig, none);
      } catch (err) {
        refused = err;
      }
      assert.instance(refused, UserError);
      assert.is((refused as UserError).exitCode, 2);
      assert.match((refused as UserError).message, 'no user manager answers systemctl --user');
      assert.match((refused as UserError).fix, `XDG_RUNTIME_DIR is ${empty}`);
      assert.match((refused as UserError).fix, 'loginctl enable-linger');

      let error: unknown = null;
      try {
        await systemdBackend.apply(w.site, w.specs);
      } catch (err) {
        error = err;
      }
      assert.instance(error, OpsError);
      assert.match((error as OpsError).message, 'cannot reach your systemd user manager');
      assert.match((error as OpsError).fix, 'XDG_RUNTIME_DIR');
      assert.not.ok(existsSync(w.unitPath('server')), 'nothing written');
    } finally {
      await w.cleanup();
    }
  }),
);

sd(
  'a new user manager (a reboot, as far as the jobs can tell) starts the enabled units again by itself',
  withTimeout(90_000, async () => {
    const w = await setup();
    let second: UserManager | null = null;
    try {
      await systemdBackend.apply(w.site, w.specs);
      const old = [await w.mainPid('sync'), await w.mainPid('server')];
      await w.manager.stop();
      for (const pid of old) assert.not.ok(isLive(pid), 'the jobs ended with their manager');
      second = await startUserManager({ home: w.manager.home, runtimeDir: w.manager.runtimeDir, owned: w.root });
      for (const kind of ['sync', 'server'] as const) {
        await waitFor(async () => (await w.mainPid(kind)) > 0, 10_000, `the ${kind} job after the restart`);
        const pid = await w.mainPid(kind);
        assert.not.ok(old.includes(pid));
        assertRunsAsSpecified(await w.waitProbe(kind, pid), w.spec(kind));
      }
    } finally {
      await second?.stop();
      await w.cleanup();
    }
  }),
);

sd.run();
