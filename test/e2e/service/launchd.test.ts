/** The launchd backend, on Linux: the real CLI drives the launchctl stand-in through install, sync and uninstall. */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { appendFileSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, isAbsolute, join } from 'node:path';
import { getAgentPath } from '../../../src/service/launchd/index.js';
import { BIN, Fixture, createFixture, findProcessesUnder, waitFor, withTimeout } from '../../helpers/fixture.js';
import { isAlive } from '../../helpers/proc.js';
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
const LABEL = { sync: 'localhost-ops.site.sync', server: 'localhost-ops.site.server' };

function need(): Fixture {
  if (!fx) throw new Error('the install test did not create the fixture');
  return fx;
}

function agentPath(kind: 'sync' | 'server'): string {
  return getAgentPath(LABEL[kind], need().home);
}

function serverPid(): number | null {
  return readRunState(need().home, LABEL.server)?.pid ?? null;
}

function cliFailed(r: { code: number; stdout: string; stderr: string }): string {
  return `exit ${r.code}\n${r.stdout}\n${r.stderr}\n${need().readLog('site', 'sync.log').slice(-3000)}`;
}

loop.after(async () => {
  if (!fx) return;
  await stopStandin(fx.home);
  await fx.cleanup();
});

loop(
  'install --service launchd serves main from two loaded LaunchAgents',
  withTimeout(180_000, async () => {
    fx = await createFixture('hello from launchd');
    const r = await fx.cli(fx.installArgs({ service: 'launchd' }), env);
    assert.is(r.code, 0, cliFailed(r));
    assert.match((await fx.get('/')).body, 'site says: hello from launchd');
    for (const kind of ['sync', 'server'] as const) {
      assert.is(statSync(agentPath(kind)).mode & 0o777, 0o644, `${kind} plist mode`);
    }
    const calls = changingCalls(readCalls(fx.home));
    for (const kind of ['sync', 'server'] as const) {
      const enable = calls.indexOf(`enable gui/${UID}/${LABEL[kind]}`);
      const bootstrap = calls.indexOf(`bootstrap gui/${UID} ${agentPath(kind)}`);
      assert.ok(enable >= 0 && bootstrap > enable, `enable, then bootstrap ${kind}: ${calls.join(' | ')}`);
    }
    assert.not.ok(
      calls.some((c) => c.startsWith('bootout')),
      'nothing to boot out on a first install',
    );
    const pid = serverPid();
    assert.ok(pid !== null && isAlive(pid), "the server runs as the stand-in's job");
    // The sync agent's RunAtLoad sync waits for install's lock, then finds nothing to do.
    await fx.waitForSyncs(2);
    assert.match(
      fx
        .readLog('site', 'sync.log')
        .split('\n')
        .filter((l) => l.includes(' done: '))
        .pop() ?? '',
      'done: noop',
    );
    assert.ok(existsSync(join(fx.siteDir(), 'logs', 'launchd-sync.log')), 'launchd-sync.log exists');
  }),
);

loop(
  'both plists parse (plist and plistlib) and carry every key',
  withTimeout(30_000, async () => {
    const f = need();
    for (const kind of ['sync', 'server'] as const) {
      const text = readFileSync(agentPath(kind), 'utf8');
      assert.ok(text.startsWith('<?xml') && text.endsWith('</plist>\n'));
      const p = readPlist(agentPath(kind));
      assert.equal(await readWithPython(agentPath(kind)), p, `${kind}: plistlib agrees`);
      assert.is(p.Label, LABEL[kind]);
      const args = p.ProgramArguments as string[];
      assert.equal(args, [process.execPath, BIN, kind === 'sync' ? 'sync' : 'run', '--name', 'site']);
      assert.ok(
        isAbsolute(args[0]) && isAbsolute(args[1]),
        'an absolute Node and entry, never a bare node, npx or env',
      );
      assert.is(p.RunAtLoad, true);
      assert.is(p.WorkingDirectory, f.siteDir());
      const vars = p.EnvironmentVariables as Dict;
      assert.is(vars.HOME, f.home);
      assert.is(vars.LOCALHOST_OPS_HOME, f.opsHome);
      assert.is(String(vars.PATH).split(':')[0], dirname(process.execPath), 'the pinned Node first on PATH');
      for (const key of ['StandardOutPath', 'StandardErrorPath'] as const) {
        assert.is(p[key], join(f.siteDir(), 'logs', `launchd-${kind}.log`));
      }
      if (kind === 'sync') {
        assert.is(p.StartInterval, 3600);
        assert.is(p.ProcessType, 'Background');
      } else {
        assert.equal(p.KeepAlive, { SuccessfulExit: false });
        assert.ok(Number.isInteger(p.ThrottleInterval));
        assert.is(p.ProcessType, 'Interactive');
        assert.ok((p.ExitTimeOut as number) >= 10);
      }
    }
  }),
);

loop(
  're-install with the same flags boots out, bootstraps and restarts nothing',
  withTimeout(120_000, async () => {
    const f = need();
    const mark = readCalls(f.home).length;
    const pid = serverPid();
    const mtimes = [statSync(agentPath('sync')).mtimeMs, statSync(agentPath('server')).mtimeMs];
    const r = await f.cli(f.installArgs({ service: 'launchd' }), env);
    assert.is(r.code, 0, cliFailed(r));
    assert.equal(changingCalls(readCalls(f.home).slice(mark)), []);
    assert.is(serverPid(), pid, 'same server process');
    assert.equal(
      [statSync(agentPath('sync')).mtimeMs, statSync(agentPath('server')).mtimeMs],
      mtimes,
      'plists not rewritten',
    );
  }),
);

loop(
  'a pushed commit and sync are served after kickstart -k of the server',
  withTimeout(120_000, async () => {
    const f = need();
    const pid = serverPid();
    await f.push({ 'content.txt': 'second commit on main\n' });
    const mark = readCalls(f.home).length;
    const r = await f.cli(['sync'], env);
    assert.is(r.code, 0, cliFailed(r));
    assert.match(r.stdout, /^updated:/);
    assert.match((await f.get('/')).body, 'site says: second commit on main');
    assert.equal(changingCalls(readCalls(f.home).slice(mark)), [`kickstart -k gui/${UID}/${LABEL.server}`]);
    assert.is.not(serverPid(), pid, 'a new server process');
  }),
);

loop(
  'the sync agent itself picks up a pushed commit and kickstarts the server',
  withTimeout(120_000, async () => {
    const f = need();
    const pid = serverPid();
    await f.push({ 'content.txt': 'third commit, synced by the agent\n' });
    const mark = readCalls(f.home).length;
    const done = f.countSyncs();
    // What StartInterval would do an hour from now: run the sync job, under its plist's env.
    assert.is((await launchctl(f.home, ['kickstart', `gui/${UID}/${LABEL.sync}`])).code, 0);
    await f.waitForSyncs(done + 1);
    assert.is(f.record()?.status, 'updated', f.readLog('site', 'sync.log').slice(-2000));
    assert.match((await f.get('/')).body, 'site says: third commit, synced by the agent');
    assert.equal(changingCalls(readCalls(f.home).slice(mark)), [
      `kickstart gui/${UID}/${LABEL.sync}`,
      `kickstart -k gui/${UID}/${LABEL.server}`,
    ]);
    assert.is.not(serverPid(), pid, 'a new server process');
  }),
);

loop(
  'a hand-edited server plist is rewritten and bootstrapped (not kickstarted) on the next restart',
  withTimeout(120_000, async () => {
    const f = need();
    const original = readFileSync(agentPath('server'), 'utf8');
    writeFileSync(agentPath('server'), original.replace('<integer>10</integer>', '<integer>99</integer>'));
    await f.push({ 'content.txt': 'fourth commit\n' });
    const mark = readCalls(f.home).length;
    const r = await f.cli(['sync'], env);
    assert.is(r.code, 0, cliFailed(r));
    assert.match((await f.get('/')).body, 'site says: fourth commit');
    assert.is(readFileSync(agentPath('server'), 'utf8'), original, 'the plist is what install renders again');
    assert.equal(changingCalls(readCalls(f.home).slice(mark)), [
      `bootout gui/${UID}/${LABEL.server}`,
      `enable gui/${UID}/${LABEL.server}`,
      `bootstrap gui/${UID} ${agentPath('server')}`,
    ]);
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
    assert.match(r.stdout, /^updated:/, 'an unhealthy server is not a noop');
    assert.match((await f.get('/')).body, 'site says: fourth commit');
    assert.equal(changingCalls(readCalls(f.home).slice(mark)), [
      `enable gui/${UID}/${LABEL.server}`,
      `bootstrap gui/${UID} ${agentPath('server')}`,
    ]);
  }),
);

loop(
  'a server that dies is started again by KeepAlive',
  withTimeout(60_000, async () => {
    const f = need();
    const pid = serverPid();
    assert.ok(pid !== null);
    process.kill(-pid, 'SIGKILL');
    await waitFor(() => serverPid() !== null && serverPid() !== pid, 30_000, 'launchd to start the server again');
    await waitFor(async () => (await f.get('/')).status === 200, 30_000, 'the restarted server to answer');
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
  're-install with a changed --interval reloads only the sync agent',
  withTimeout(120_000, async () => {
    const f = need();
    const mark = readCalls(f.home).length;
    const pid = serverPid();
    const done = f.countSyncs();
    const r = await f.cli(f.installArgs({ service: 'launchd', interval: '7200' }), env);
    assert.is(r.code, 0, cliFailed(r));
    assert.equal(changingCalls(readCalls(f.home).slice(mark)), [
      `bootout gui/${UID}/${LABEL.sync}`,
      `enable gui/${UID}/${LABEL.sync}`,
      `bootstrap gui/${UID} ${agentPath('sync')}`,
    ]);
    assert.is(readPlist(agentPath('sync')).StartInterval, 7200);
    assert.is(serverPid(), pid, 'the server was not restarted');
    // The reloaded agent's RunAtLoad sync; let it finish before uninstall.
    await f.waitForSyncs(done + 2);
  }),
);

loop(
  'uninstall leaves no plist and no process',
  withTimeout(120_000, async () => {
    const f = need();
    const r = await f.cli(['uninstall'], env);
    assert.is(r.code, 0, cliFailed(r));
    for (const kind of ['sync', 'server'] as const) {
      assert.not.ok(existsSync(agentPath(kind)), `${kind} plist removed`);
      assert.is((await launchctl(f.home, ['print', `gui/${UID}/${LABEL[kind]}`])).code, 113, `${kind} unloaded`);
    }
    await waitFor(() => findProcessesUnder(f.root).length === 0, 10_000, 'every process of the fixture to end');
    assert.is((await f.get('/')).status, null, 'nothing answers on the port');
  }),
);

loop.run();
