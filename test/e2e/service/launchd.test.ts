/**
 * The launchd backend, on Linux: the real CLI drives the launchctl stand-in through install,
 * sync and uninstall. Both agents are resident (DESIGN §4): the sync agent (`sync --watch`)
 * and the server agent (`run`) stay running, launchd starts either again when it dies, and
 * a new main reaches the page through the server agent's switch, with no launchctl call.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { appendFileSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, isAbsolute, join } from 'node:path';
import { getAgentPath } from '../../../src/service/launchd/index.js';
import { BIN, Fixture, createFixture, findProcessesUnder, sh, waitFor, withTimeout } from '../../helpers/fixture.js';
import { getFreePort, isAlive, isGroupAlive } from '../../helpers/proc.js';
import {
  UID,
  changingCalls,
  launchctl,
  readCalls,
  readRunState,
  standinEnv,
  stopStandin,
} from '../../helpers/launchctl-standin.js';
import { readPlist, type Dict } from '../../helpers/launchd.js';
import { readWithPython } from '../../helpers/plistlib.js';

// ------------------------------------------------------- the whole loop on launchd

const loop = suite('launchd: install, sync, re-install, uninstall through launchctl');
let fx: Fixture | null = null;
const env = standinEnv();
type Kind = 'sync' | 'server';
const KINDS = ['sync', 'server'] as const;
const LABEL = { sync: 'localhost-ops.site.sync', server: 'localhost-ops.site.server' };

function need(): Fixture {
  if (!fx) throw new Error('the install test did not create the fixture');
  return fx;
}

function agentPath(kind: Kind): string {
  return getAgentPath(LABEL[kind], need().home);
}

/** The agent's process as the stand-in started it (the `run` or `sync --watch` process). */
function pidOf(kind: Kind): number | null {
  return readRunState(need().home, LABEL[kind])?.pid ?? null;
}

/** Both agents' pids, to show that something restarted nothing. */
function pids(): Record<Kind, number | null> {
  return { sync: pidOf('sync'), server: pidOf('server') };
}

interface ServerJson {
  live: 'a' | 'b' | null;
  slots: Record<'a' | 'b', { pid: number | null }>;
}

function readServerJson(): ServerJson | null {
  try {
    return JSON.parse(readFileSync(join(need().siteDir(), 'run', 'server.json'), 'utf8')) as ServerJson;
  } catch {
    return null;
  }
}

/** The slot the server agent serves from (run/server.json). */
function liveSlot(): string | null {
  return readServerJson()?.live ?? null;
}

/** The live slot's dev server, a child of the server agent in a process group of its own. */
function devServerPid(): number | null {
  const state = readServerJson();
  return state?.live ? state.slots[state.live].pid : null;
}

/** The syncs process `pid` finished (its `[pid] done: ` lines in sync.log), last one last. */
function syncsBy(pid: number | null): string[] {
  return need()
    .readLog('site', 'sync.log')
    .split('\n')
    .filter((l) => l.includes(`[${pid}] done: `));
}

/**
 * Until the sync agent has nothing in flight: its last line is a finished (or skipped) sync, still so a
 * second later (a fetch it or another sync made wakes it after a debounce). Then a test's
 * own git fetch cannot race the agent's on the canonical repo's refs.
 */
async function agentIdle(): Promise<void> {
  const last = () =>
    need()
      .readLog('site', 'sync.log')
      .split('\n')
      .filter((l) => l.includes(`[${pidOf('sync')}] `))
      .pop() ?? '';
  await waitFor(
    async () => {
      const line = last();
      // A finished sync, or a wake-up it skipped because another sync had settled main already.
      if (!line.includes('] done: ') && !line.includes('settled that main since: nothing to do')) return false;
      await new Promise((r) => setTimeout(r, 1000));
      return last() === line;
    },
    60_000,
    'the sync agent to be idle',
  );
}

function cliFailed(r: { code: number; stdout: string; stderr: string }): string {
  return `exit ${r.code}\n${r.stdout}\n${r.stderr}\n${need().readLog('site', 'sync.log').slice(-3000)}`;
}

/** The changing launchctl calls since `mark`, for a message. */
function callsSince(mark: number): string[] {
  return changingCalls(readCalls(need().home).slice(mark));
}

loop.after(async () => {
  if (!fx) return;
  await stopStandin(fx.home);
  await fx.cleanup();
});

loop(
  'install --service launchd serves main from two loaded, resident LaunchAgents',
  withTimeout(180_000, async () => {
    fx = await createFixture('hello from launchd');
    const r = await fx.cli(fx.installArgs({ service: 'launchd' }), env);
    assert.is(r.code, 0, cliFailed(r));
    assert.match((await fx.get('/')).body, 'site says: hello from launchd');
    for (const kind of KINDS) {
      assert.is(statSync(agentPath(kind)).mode & 0o777, 0o644, `${kind} plist mode`);
    }
    const calls = changingCalls(readCalls(fx.home));
    for (const kind of KINDS) {
      const enable = calls.indexOf(`enable gui/${UID}/${LABEL[kind]}`);
      const bootstrap = calls.indexOf(`bootstrap gui/${UID} ${agentPath(kind)}`);
      assert.ok(enable >= 0 && bootstrap > enable, `enable, then bootstrap ${kind}: ${calls.join(' | ')}`);
    }
    assert.not.ok(
      calls.some((c) => c.startsWith('bootout')),
      'nothing to boot out on a first install',
    );
    const started = pids();
    for (const kind of KINDS) {
      const pid = started[kind];
      assert.ok(pid !== null && isAlive(pid), `the ${kind} agent runs as the stand-in's job`);
      const printed = await launchctl(fx.home, ['print', `gui/${UID}/${LABEL[kind]}`]);
      assert.match(printed.stdout, `\tpid = ${pid}\n`, `launchctl print names the ${kind} agent's pid`);
    }
    // The sync agent's sync at start waits for install's lock, then finds nothing to do…
    await waitFor(() => syncsBy(started.sync).length >= 1, 60_000, "the sync agent's first sync");
    assert.match(syncsBy(started.sync)[0], 'done: noop');
    // …and the agent stays: it is resident, not a job that runs and exits.
    assert.equal(pids(), started, 'both agents still run, the same processes');
    assert.ok(existsSync(join(fx.siteDir(), 'logs', 'launchd-sync.log')), 'launchd-sync.log exists');
  }),
);

loop(
  'both plists parse (plist and plistlib) and carry every key',
  withTimeout(30_000, async () => {
    const f = need();
    for (const kind of KINDS) {
      const text = readFileSync(agentPath(kind), 'utf8');
      assert.ok(text.startsWith('<?xml') && text.endsWith('</plist>\n'));
      const p = readPlist(agentPath(kind));
      assert.equal(await readWithPython(agentPath(kind)), p, `${kind}: plistlib agrees`);
      assert.is(p.Label, LABEL[kind]);
      const args = p.ProgramArguments as string[];
      assert.equal(args, [
        process.execPath,
        ...(kind === 'sync' ? ['--max-semi-space-size=1', BIN, 'sync', '--watch'] : [BIN, 'run']),
        '--name',
        'site',
      ]);
      assert.ok(
        isAbsolute(args[0]) && isAbsolute(args[kind === 'sync' ? 2 : 1]),
        'an absolute Node and entry, never a bare node, npx or env',
      );
      assert.is(p.WorkingDirectory, f.siteDir());
      const vars = p.EnvironmentVariables as Dict;
      assert.is(vars.HOME, f.home);
      assert.is(vars.LOCALHOST_OPS_HOME, f.opsHome);
      assert.is(String(vars.PATH).split(':')[0], dirname(process.execPath), 'the pinned Node first on PATH');
      for (const key of ['StandardOutPath', 'StandardErrorPath'] as const) {
        assert.is(p[key], join(f.siteDir(), 'logs', `launchd-${kind}.log`));
      }
      // Resident, both (DESIGN §4): started at load, kept alive whatever ended them, restarts
      // throttled, never on a timer; loadable in gui/<uid> (Aqua) and user/<uid> (Background).
      assert.is(p.RunAtLoad, true);
      assert.is(p.KeepAlive, true, `${kind}: KeepAlive true`);
      assert.not.ok('StartInterval' in p, `${kind}: no StartInterval, the agent keeps its own interval`);
      assert.is(p.ThrottleInterval, 10, `${kind}: restarts at most every 10 s`);
      assert.equal(p.LimitLoadToSessionType, ['Aqua', 'Background'], `${kind}: LimitLoadToSessionType`);
      if (kind === 'sync') {
        assert.is(p.ProcessType, 'Background');
      } else {
        assert.is(p.ProcessType, 'Interactive');
        assert.ok((p.ExitTimeOut as number) >= 10, 'time for the dev servers to stop and free the port');
      }
    }
  }),
);

loop(
  're-install with the same flags boots out, bootstraps and restarts nothing',
  withTimeout(120_000, async () => {
    const f = need();
    const mark = readCalls(f.home).length;
    const before = pids();
    const mtimes = [statSync(agentPath('sync')).mtimeMs, statSync(agentPath('server')).mtimeMs];
    const r = await f.cli(f.installArgs({ service: 'launchd' }), env);
    assert.is(r.code, 0, cliFailed(r));
    assert.equal(callsSince(mark), []);
    assert.equal(pids(), before, 'the same agent processes');
    assert.equal(
      [statSync(agentPath('sync')).mtimeMs, statSync(agentPath('server')).mtimeMs],
      mtimes,
      'plists not rewritten',
    );
  }),
);

loop(
  'a pushed commit and sync are served through the server agent’s switch, with no launchctl call',
  withTimeout(120_000, async () => {
    const f = need();
    const before = pids();
    const slot = liveSlot();
    assert.ok(slot === 'a' || slot === 'b', `a live slot: ${slot}`);
    await f.push({ 'content.txt': 'second commit on main\n' });
    const mark = readCalls(f.home).length;
    const r = await f.cli(['sync'], env);
    assert.is(r.code, 0, cliFailed(r));
    assert.match(r.stdout, /^updated:/);
    assert.match((await f.get('/')).body, 'site says: second commit on main');
    assert.equal(callsSince(mark), [], 'launchd restarts nothing');
    assert.equal(pids(), before, 'the same server agent switched slots');
    assert.is.not(liveSlot(), slot, 'the other slot is live now');
  }),
);

loop(
  'the sync agent brings a commit when origin/main moves in the canonical repo, with no launchctl call',
  withTimeout(120_000, async () => {
    const f = need();
    await agentIdle();
    const before = pids();
    const slot = liveSlot();
    const sha = await f.push({ 'content.txt': 'third commit, synced by the agent\n' });
    const mark = readCalls(f.home).length;
    // What `git pull` or an editor's fetch does; the agent runs git under its plist's PATH.
    await sh(f.canonical, 'git', ['fetch', '-q', 'origin']);
    await waitFor(
      async () => (await f.get('/')).body.includes('site says: third commit, synced by the agent'),
      60_000,
      'the agent to serve the new main',
    );
    assert.is(f.record()?.sha, sha);
    assert.ok(
      syncsBy(before.sync).some((l) => l.includes(`done: updated sha=${sha.slice(0, 7)}`)),
      `the resident agent (pid ${before.sync}) did it:\n${f.readLog('site', 'sync.log').slice(-2000)}`,
    );
    assert.equal(callsSince(mark), []);
    assert.equal(pids(), before, 'both agents kept running');
    assert.is.not(liveSlot(), slot);
  }),
);

loop(
  'kickstart leaves the running sync agent alone; kickstart -k restarts it, and it syncs at start',
  withTimeout(120_000, async () => {
    const f = need();
    const before = pids();
    const target = `gui/${UID}/${LABEL.sync}`;
    assert.is((await launchctl(f.home, ['kickstart', target])).code, 0);
    assert.equal(pids(), before, 'a running agent is not started twice');
    assert.is((await launchctl(f.home, ['kickstart', '-k', target])).code, 0);
    const pid = pidOf('sync');
    assert.ok(pid !== null && pid !== before.sync && isAlive(pid), 'a new sync agent');
    assert.not.ok(isAlive(before.sync as number), 'the old one ended');
    await waitFor(() => syncsBy(pid).length >= 1, 60_000, "the new agent's sync at start");
    assert.match(syncsBy(pid)[0], 'done: noop');
    assert.is(pidOf('server'), before.server, 'the server agent was not touched');
  }),
);

loop(
  'a hand-edited server plist is booted out, rewritten and bootstrapped (not kickstarted) by re-install',
  withTimeout(120_000, async () => {
    const f = need();
    const before = pids();
    const original = readFileSync(agentPath('server'), 'utf8');
    writeFileSync(agentPath('server'), original.replace('<integer>10</integer>', '<integer>99</integer>'));
    const mark = readCalls(f.home).length;
    const r = await f.cli(f.installArgs({ service: 'launchd' }), env);
    assert.is(r.code, 0, cliFailed(r));
    assert.is(readFileSync(agentPath('server'), 'utf8'), original, 'the plist is what install renders again');
    assert.equal(callsSince(mark), [
      `bootout gui/${UID}/${LABEL.server}`,
      `enable gui/${UID}/${LABEL.server}`,
      `bootstrap gui/${UID} ${agentPath('server')}`,
    ]);
    assert.match((await f.get('/')).body, 'site says: third commit, synced by the agent');
    assert.is.not(pidOf('server'), before.server, 'a new server agent');
    assert.is(pidOf('sync'), before.sync, 'the sync agent was not touched');
  }),
);

loop(
  'a server booted out by hand is bootstrapped again by the next sync',
  withTimeout(120_000, async () => {
    const f = need();
    assert.is((await launchctl(f.home, ['bootout', `gui/${UID}/${LABEL.server}`])).code, 0);
    await waitFor(async () => (await f.get('/')).status === null, 30_000, 'the server to stop');
    const mark = readCalls(f.home).length;
    const r = await f.cli(['sync'], env);
    assert.is(r.code, 0, cliFailed(r));
    assert.match(f.readLog('site', 'sync.log'), /the server agent does not answer; restarting the server job/);
    assert.match((await f.get('/')).body, 'site says: third commit, synced by the agent');
    assert.equal(callsSince(mark), [
      `enable gui/${UID}/${LABEL.server}`,
      `bootstrap gui/${UID} ${agentPath('server')}`,
    ]);
    const pid = pidOf('server');
    assert.ok(pid !== null && isAlive(pid), 'the server agent runs as the stand-in’s job again');
  }),
);

loop(
  'a server agent that dies is started again by KeepAlive, and ends the dev server it left behind',
  withTimeout(60_000, async () => {
    const f = need();
    const pid = pidOf('server');
    const dev = devServerPid();
    assert.ok(pid !== null && dev !== null && isAlive(dev));
    // The agent's own group only: its dev server, in a group of its own, outlives it.
    process.kill(-pid, 'SIGKILL');
    await waitFor(() => pidOf('server') !== null && pidOf('server') !== pid, 30_000, 'launchd to start it again');
    await waitFor(
      () => !isGroupAlive(dev),
      30_000,
      `the new agent to end dev server ${dev}, which the killed one left behind`,
    );
    await waitFor(async () => (await f.get('/')).status === 200, 30_000, 'the restarted server agent to answer');
    assert.match((await f.get('/')).body, 'site says: third commit, synced by the agent');
  }),
);

loop(
  'a server agent that exits cleanly (SIGTERM, exit 0) is started again too: KeepAlive true, never a dead port',
  withTimeout(60_000, async () => {
    const f = need();
    const pid = pidOf('server');
    assert.ok(pid !== null);
    process.kill(pid, 'SIGTERM');
    await waitFor(() => readRunState(f.home, LABEL.server)?.lastExit === 0, 30_000, 'the agent to exit 0');
    await waitFor(() => pidOf('server') !== null && pidOf('server') !== pid, 30_000, 'launchd to start it again');
    await waitFor(async () => (await f.get('/')).status === 200, 30_000, 'the restarted server agent to answer');
    assert.match((await f.get('/')).body, 'site says: third commit, synced by the agent');
  }),
);

loop(
  'a sync agent that dies is started again by KeepAlive, and syncs at start',
  withTimeout(60_000, async () => {
    const before = pids();
    assert.ok(before.sync !== null);
    process.kill(-before.sync, 'SIGKILL');
    await waitFor(
      () => pidOf('sync') !== null && pidOf('sync') !== before.sync,
      30_000,
      'launchd to start the sync agent again',
    );
    assert.not.ok(isGroupAlive(before.sync), 'the old agent is gone');
    const pid = pidOf('sync');
    await waitFor(() => syncsBy(pid).length >= 1, 60_000, "the new agent's sync at start");
    assert.match(syncsBy(pid)[0], 'done: noop');
    assert.is(pidOf('server'), before.server, 'the server agent was not touched');
  }),
);

loop(
  "sync rotates launchd's own logs by copy-then-truncate",
  withTimeout(60_000, async () => {
    const f = need();
    const log = join(f.siteDir(), 'logs', 'launchd-server.log');
    appendFileSync(log, 'x'.repeat(5 * 1024 * 1024 + 10) + '\n');
    const inode = statSync(log).ino;
    const r = await f.cli(['sync'], env);
    assert.is(r.code, 0, cliFailed(r));
    assert.is(statSync(log).ino, inode, 'the file launchd holds open is kept');
    assert.ok(statSync(log).size < 1024 * 1024, 'and truncated');
    assert.ok(statSync(`${log}.1`).size > 5 * 1024 * 1024, 'its content moved to .1');
  }),
);

loop(
  're-install with a changed --interval reloads no agent: the resident sync agent reads config.json',
  withTimeout(120_000, async () => {
    const f = need();
    const mark = readCalls(f.home).length;
    const before = pids();
    const mtimes = [statSync(agentPath('sync')).mtimeMs, statSync(agentPath('server')).mtimeMs];
    const r = await f.cli(f.installArgs({ service: 'launchd', interval: '7200' }), env);
    assert.is(r.code, 0, cliFailed(r));
    assert.equal(callsSince(mark), []);
    assert.equal(
      [statSync(agentPath('sync')).mtimeMs, statSync(agentPath('server')).mtimeMs],
      mtimes,
      'no interval in either plist',
    );
    assert.equal(pids(), before, 'neither agent was restarted');
    // The agent notices the new config.json and syncs (after install's, under the lock).
    await waitFor(
      () => /agent: woken: config\.json changed/.test(f.readLog('site', 'sync.log').split('\n').slice(-40).join('\n')),
      30_000,
      'the sync agent to notice config.json',
    );
  }),
);

loop(
  'a hand-edited sync plist is reloaded alone by re-install',
  withTimeout(120_000, async () => {
    const f = need();
    const before = pids();
    const original = readFileSync(agentPath('sync'), 'utf8');
    writeFileSync(agentPath('sync'), original.replace('<string>Background</string>', '<string>Standard</string>'));
    const mark = readCalls(f.home).length;
    const r = await f.cli(f.installArgs({ service: 'launchd', interval: '7200' }), env);
    assert.is(r.code, 0, cliFailed(r));
    assert.is(readFileSync(agentPath('sync'), 'utf8'), original);
    assert.equal(callsSince(mark), [
      `bootout gui/${UID}/${LABEL.sync}`,
      `enable gui/${UID}/${LABEL.sync}`,
      `bootstrap gui/${UID} ${agentPath('sync')}`,
    ]);
    assert.is(pidOf('server'), before.server, 'the server agent was not restarted');
    const pid = pidOf('sync');
    assert.ok(pid !== null && pid !== before.sync, 'a new sync agent');
    // Its RunAtLoad sync; let it finish before the next test.
    await waitFor(() => syncsBy(pid).length >= 1, 60_000, "the reloaded agent's sync at start");
  }),
);

loop(
  're-install with a changed --port restarts the server agent alone (kickstart -k); it holds the new port',
  withTimeout(120_000, async () => {
    const f = need();
    const before = pids();
    const oldPort = f.port;
    const port = await getFreePort();
    const mark = readCalls(f.home).length;
    const r = await f.cli(f.installArgs({ service: 'launchd', interval: '7200', port: String(port) }), env);
    assert.is(r.code, 0, cliFailed(r));
    assert.equal(callsSince(mark), [`kickstart -k gui/${UID}/${LABEL.server}`], 'the plists name no port');
    f.port = port;
    assert.match((await f.get('/')).body, 'site says: third commit, synced by the agent');
    assert.is.not(pidOf('server'), before.server, 'a new server agent');
    assert.is(pidOf('sync'), before.sync, 'the sync agent was not restarted');
    f.port = oldPort;
    assert.is((await f.get('/')).status, null, 'nothing answers on the old port');
    f.port = port;
  }),
);

loop(
  'uninstall leaves no plist and no process',
  withTimeout(120_000, async () => {
    const f = need();
    const r = await f.cli(['uninstall'], env);
    assert.is(r.code, 0, cliFailed(r));
    for (const kind of KINDS) {
      assert.not.ok(existsSync(agentPath(kind)), `${kind} plist removed`);
      assert.is((await launchctl(f.home, ['print', `gui/${UID}/${LABEL[kind]}`])).code, 113, `${kind} unloaded`);
    }
    await waitFor(() => findProcessesUnder(f.root).length === 0, 10_000, 'every process of the fixture to end');
    assert.is((await f.get('/')).status, null, 'nothing answers on the port');
  }),
);

loop.run();
