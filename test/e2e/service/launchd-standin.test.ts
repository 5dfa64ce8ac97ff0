/**
 * launchd plists on disk, on Linux: what we render reads back the same in Python's plistlib,
 * and the launchctl stand-in (test/helpers/bin/launchctl) runs them the way launchd would:
 * both agents are resident (KeepAlive), so a job that exits is started again, throttled.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { getJobSpecs, type JobSpec } from '../../../src/service/jobs.js';
import {
  buildPlistText,
  parseTemplate,
  readTemplate,
  renderAgent,
  renderAgentText,
} from '../../../src/service/launchd/plist.js';
import { getAgentPath, parsePrint } from '../../../src/service/launchd/index.js';
import { Fixture, waitFor, withTimeout } from '../../helpers/fixture.js';
import { isAlive, isGroupAlive, sleep } from '../../helpers/proc.js';
import {
  UID,
  launchctl,
  readCalls,
  readFaults,
  readRunState,
  setFaults,
  stopStandin,
} from '../../helpers/launchctl-standin.js';
import { readPlist, siteFor, type Dict } from '../../helpers/launchd.js';
import { readWithPython } from '../../helpers/plistlib.js';

const render = suite('launchd: rendered plists on disk');

const AWKWARD = join(tmpdir(), `we ird & <dir> "quoted" 'single' ünïcødé 日本`);

render(
  'paths with spaces, &, <, quotes and non-ASCII survive the round trip (plist and plistlib)',
  withTimeout(30_000, async () => {
    const root = mkdtempSync(join(tmpdir(), 'lops-render-'));
    try {
      const site = siteFor(
        join(AWKWARD, 'ops-local'),
        'site',
        3600,
        { HOME: AWKWARD, LOCALHOST_OPS_HOME: join(AWKWARD, 'ops-local') },
        join(AWKWARD, 'tool'),
        `${AWKWARD}/node/bin`,
      );
      const specs = getJobSpecs(site);
      for (const spec of specs) {
        const text = renderAgentText(spec);
        assert.ok(text.endsWith('</plist>\n'), 'ends with a newline');
        assert.ok(text.includes('&amp;') && text.includes('&lt;'), 'escaped, not pasted');
        const file = join(root, `${spec.label}.plist`);
        writeFileSync(file, text);
        const ours = readPlist(file);
        assert.equal(await readWithPython(file), ours, 'plistlib reads what plist reads');
        assert.is(ours.Label, spec.label);
        assert.equal(ours.ProgramArguments, spec.programArguments);
        assert.is(ours.WorkingDirectory, spec.workingDirectory);
        assert.equal(ours.EnvironmentVariables, spec.environment);
        assert.is((ours.EnvironmentVariables as Dict).HOME, AWKWARD);
        assert.is(ours.StandardOutPath, join(AWKWARD, 'ops-local', 'site', 'logs', `launchd-${spec.kind}.log`));
        assert.is(ours.StandardErrorPath, spec.stderrPath);
      }
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  }),
);

render.run();

// ------------------------------------------------ the stand-in executes the plist

const standin = suite('launchd: the stand-in runs plists as launchd would');

async function withHome(fn: (home: string, root: string) => Promise<void>): Promise<void> {
  const fx = new Fixture(mkdtempSync(join(tmpdir(), 'lops-standin-')));
  mkdirSync(fx.home, { recursive: true });
  try {
    await fn(fx.home, fx.root);
  } finally {
    await stopStandin(fx.home);
    await fx.cleanup();
  }
}

/** The agent as install renders it, with `over` set on top (a shorter ThrottleInterval, another KeepAlive). */
function writeAgent(home: string, spec: JobSpec, over: Dict = {}): string {
  const path = getAgentPath(spec.label, home);
  mkdirSync(dirname(path), { recursive: true });
  const text = Object.keys(over).length
    ? buildPlistText({ ...renderAgent(spec, parseTemplate(readTemplate(spec.kind))), ...over } as Parameters<
        typeof buildPlistText
      >[0])
    : renderAgentText(spec);
  writeFileSync(path, text, { mode: 0o644 });
  return path;
}

/** A sync-kind job (resident: RunAtLoad, KeepAlive true) that runs a shell script instead of the tool. */
function scriptJob(root: string, label: string, script: string, over: Partial<JobSpec> = {}): JobSpec {
  return {
    kind: 'sync',
    label,
    programArguments: ['/bin/sh', '-c', script],
    workingDirectory: root,
    environment: { HOME: join(root, 'home'), ONLY: 'this & that' },
    stdoutPath: join(root, 'logs', `${label}.log`),
    stderrPath: join(root, 'logs', `${label}.log`),
    ...over,
  };
}

async function print(home: string, label: string) {
  return parsePrint((await launchctl(home, ['print', `gui/${UID}/${label}`])).stdout);
}

async function bootoutAndWait(home: string, label: string): Promise<void> {
  assert.is((await launchctl(home, ['bootout', `gui/${UID}/${label}`])).code, 0);
  await waitFor(
    async () => (await launchctl(home, ['print', `gui/${UID}/${label}`])).code === 113,
    30_000,
    `the bootout of ${label}`,
  );
}

/** Milliseconds since the epoch, one line per start, as the job wrote them. */
function readStarts(file: string): number[] {
  try {
    return readFileSync(file, 'utf8').split('\n').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

standin(
  'a good plist runs with exactly its environment, folder and logs, and stays running; 5 when loaded twice',
  withTimeout(30_000, () =>
    withHome(async (home, root) => {
      mkdirSync(join(root, 'logs'));
      const path = writeAgent(
        home,
        scriptJob(root, 'test.good', 'env > env.txt; pwd; echo to-stderr >&2; exec sleep 600'),
      );
      assert.is(readPlist(path).KeepAlive, true, 'a resident agent');
      assert.is((await launchctl(home, ['bootstrap', `gui/${UID}`, path])).code, 0);
      await waitFor(() => existsSync(join(root, 'env.txt')), 10_000, 'the job to run');
      await waitFor(
        () => readFileSync(join(root, 'logs', 'test.good.log'), 'utf8').endsWith('to-stderr\n'),
        10_000,
        'its output',
      );
      const env = readFileSync(join(root, 'env.txt'), 'utf8')
        .split('\n')
        .filter((l) => l && !l.startsWith('PWD=') && !l.startsWith('SHLVL=') && !l.startsWith('_='));
      assert.equal(env.sort(), [
        `HOME=${join(root, 'home')}`,
        'ONLY=this & that',
        'PATH=/usr/bin:/bin:/usr/sbin:/sbin',
      ]);
      assert.is(readFileSync(join(root, 'logs', 'test.good.log'), 'utf8'), `${root}\nto-stderr\n`);
      assert.is((await launchctl(home, ['bootstrap', `gui/${UID}`, path])).code, 5);
      const pid = readRunState(home, 'test.good')?.pid ?? null;
      assert.ok(pid !== null && isAlive(pid), 'the job runs');
      assert.equal(await print(home, 'test.good'), { state: 'running', pid, lastExit: null });
      await bootoutAndWait(home, 'test.good');
      await waitFor(() => !isGroupAlive(pid), 2000, 'bootout to have ended the job and its group');
    }),
  ),
);

standin(
  'KeepAlive true: a job that exits, even with 0, is started again, no sooner than ThrottleInterval after its last start',
  withTimeout(60_000, () =>
    withHome(async (home, root) => {
      mkdirSync(join(root, 'logs'));
      const starts = join(root, 'starts.txt');
      // Exits at once: every restart waits out the full ThrottleInterval.
      const path = writeAgent(home, scriptJob(root, 'test.again', `date +%s%3N >> ${JSON.stringify(starts)}`), {
        ThrottleInterval: 2,
      });
      assert.is((await launchctl(home, ['bootstrap', `gui/${UID}`, path])).code, 0);
      await waitFor(() => readStarts(starts).length >= 1, 10_000, 'the first start');
      await waitFor(
        async () => (await print(home, 'test.again')).state === 'spawn scheduled',
        5000,
        'a restart to be scheduled',
      );
      assert.equal(await print(home, 'test.again'), { state: 'spawn scheduled', pid: null, lastExit: 0 });
      await waitFor(() => readStarts(starts).length >= 3, 20_000, 'two restarts');
      const at = readStarts(starts);
      for (let i = 1; i < at.length; i++) {
        assert.ok(at[i] - at[i - 1] >= 1900, `start ${i} came ${at[i] - at[i - 1]} ms after the one before`);
      }
      await bootoutAndWait(home, 'test.again');
      const n = readStarts(starts).length;
      await sleep(3000);
      assert.is(readStarts(starts).length, n, 'a booted-out job is not started again');
    }),
  ),
);

standin(
  'KeepAlive {SuccessfulExit: false}: a crash is started again, a clean exit stays stopped',
  withTimeout(30_000, () =>
    withHome(async (home, root) => {
      mkdirSync(join(root, 'logs'));
      const spec = scriptJob(
        root,
        'test.crash',
        'echo run >> runs.txt; [ -e crashed ] && exit 0; touch crashed; exit 3',
        {
          kind: 'server',
        },
      );
      const path = writeAgent(home, spec, { KeepAlive: { SuccessfulExit: false }, ThrottleInterval: 1 });
      assert.is((await launchctl(home, ['bootstrap', `gui/${UID}`, path])).code, 0);
      await waitFor(() => readRunState(home, 'test.crash')?.runs === 2, 10_000, 'the restart after the crash');
      await waitFor(() => readRunState(home, 'test.crash')?.lastExit === 0, 10_000, 'the clean exit');
      await sleep(2500);
      assert.equal(await print(home, 'test.crash'), { state: 'not running', pid: null, lastExit: 0 });
      assert.is(readFileSync(join(root, 'runs.txt'), 'utf8'), 'run\nrun\n', 'not started a third time');
      // kickstart starts a stopped job; -p prints its pid.
      const r = await launchctl(home, ['kickstart', '-p', `gui/${UID}/test.crash`]);
      assert.is(r.code, 0);
      assert.match(r.stdout, /^\d+\n$/);
      await waitFor(() => readRunState(home, 'test.crash')?.runs === 3, 10_000, 'the kickstarted run');
    }),
  ),
);

standin(
  'kickstart leaves a running job alone; kickstart -k ends its group (SIGKILL after ExitTimeOut) and starts it at once',
  withTimeout(60_000, () =>
    withHome(async (home, root) => {
      mkdirSync(join(root, 'logs'));
      // Ignores SIGTERM, so only ExitTimeOut's SIGKILL ends it; a child keeps its group busy.
      const script = `trap '' TERM; date +%s%3N >> starts.txt; sleep 600 & while :; do sleep 1; done`;
      const path = writeAgent(home, scriptJob(root, 'test.stubborn', script), { ExitTimeOut: 2, ThrottleInterval: 30 });
      assert.is((await launchctl(home, ['bootstrap', `gui/${UID}`, path])).code, 0);
      await waitFor(() => readStarts(join(root, 'starts.txt')).length === 1, 10_000, 'the first start');
      const pid = readRunState(home, 'test.stubborn')?.pid ?? null;
      assert.ok(pid !== null && isAlive(pid));
      assert.is((await launchctl(home, ['kickstart', `gui/${UID}/test.stubborn`])).code, 0);
      assert.is(readRunState(home, 'test.stubborn')?.pid, pid, 'kickstart of a running job starts no other');
      const before = Date.now();
      const r = await launchctl(home, ['kickstart', '-k', '-p', `gui/${UID}/test.stubborn`]);
      assert.is(r.code, 0, r.stderr);
      const took = Date.now() - before;
      assert.ok(took >= 1900 && took < 10_000, `kickstart -k waited out ExitTimeOut (${took} ms)`);
      await waitFor(() => !isGroupAlive(pid), 2000, 'the old group, its background sleep too, to be gone');
      const next = Number(r.stdout.trim());
      assert.ok(next !== pid && isAlive(next), 'a new process, not held back by ThrottleInterval');
      assert.is(readRunState(home, 'test.stubborn')?.runs, 2);
      await bootoutAndWait(home, 'test.stubborn');
      await waitFor(() => !isGroupAlive(next), 2000, 'bootout to end it too');
    }),
  ),
);

standin(
  'a WorkingDirectory, log folder or program that does not exist fails the job with 78, retried while KeepAlive holds',
  withTimeout(30_000, () =>
    withHome(async (home, root) => {
      const cases = [
        scriptJob(root, 'test.nowhere', 'touch ran.txt', { workingDirectory: join(root, 'no', 'such', 'folder') }),
        scriptJob(root, 'test.nologs', 'touch ran.txt', {
          stdoutPath: join(root, 'missing-logs', 'x.log'),
          stderrPath: join(root, 'missing-logs', 'x.log'),
        }),
        // A Node that a Homebrew upgrade removed: the plist still names it.
        scriptJob(root, 'test.noprogram', 'touch ran.txt', {
          programArguments: [join(root, 'Cellar', 'node', '22.1.0', 'bin', 'node'), '-e', '0'],
        }),
      ];
      mkdirSync(join(root, 'logs'));
      for (const spec of cases) {
        const path = writeAgent(home, spec, { ThrottleInterval: 1 });
        assert.is((await launchctl(home, ['bootstrap', `gui/${UID}`, path])).code, 0, 'launchd loads it');
        await waitFor(() => readRunState(home, spec.label)?.lastExit === 78, 10_000, `${spec.label} to fail with 78`);
        const printed = await print(home, spec.label);
        assert.equal({ pid: printed.pid, lastExit: printed.lastExit }, { pid: null, lastExit: 78 });
        assert.is.not(printed.state, 'running');
        await waitFor(() => (readRunState(home, spec.label)?.runs ?? 0) >= 2, 10_000, `${spec.label} to be retried`);
      }
      assert.not.ok(existsSync(join(root, 'ran.txt')), 'the program never ran');
    }),
  ),
);

standin(
  'a plist others may write, with a mistyped key, or for another session type is refused',
  withTimeout(30_000, () =>
    withHome(async (home, root) => {
      mkdirSync(join(root, 'logs'));
      const path = writeAgent(home, scriptJob(root, 'test.loose', 'exec sleep 600'));
      chmodSync(path, 0o666);
      assert.is((await launchctl(home, ['bootstrap', `gui/${UID}`, path])).code, 5);
      chmodSync(path, 0o644);
      const good = readFileSync(path, 'utf8');
      writeFileSync(path, good.replace('<key>KeepAlive</key>', '<key>KeepAlives</key>'));
      let r = await launchctl(home, ['bootstrap', `gui/${UID}`, path]);
      assert.is(r.code, 5);
      assert.match(r.stderr, /unknown key KeepAlives/);
      // The gui/<uid> domain is the Aqua session: a Background-only agent cannot load there.
      writeAgent(home, scriptJob(root, 'test.loose', 'exec sleep 600'), { LimitLoadToSessionType: ['Background'] });
      r = await launchctl(home, ['bootstrap', `gui/${UID}`, path]);
      assert.is(r.code, 134);
      assert.match(r.stderr, /Service cannot load in requested session/);
      writeAgent(home, scriptJob(root, 'test.loose', 'exec sleep 600'), {
        LimitLoadToSessionType: ['Aqua', 'Background'],
      });
      assert.is((await launchctl(home, ['bootstrap', `gui/${UID}`, path])).code, 0);
      await waitFor(() => readRunState(home, 'test.loose')?.state === 'running', 10_000, 'the job to run');
    }),
  ),
);

standin(
  'LimitLoadToSessionType: gui/<uid> is the Aqua session, user/<uid> the Background one; our agents load in either',
  withTimeout(30_000, () =>
    withHome(async (home, root) => {
      mkdirSync(join(root, 'logs'));
      const spec = scriptJob(root, 'test.sessions', 'exec sleep 600');
      // launchd's default is Aqua: such a plist cannot load in user/<uid>.
      const bare = writeAgent(home, spec);
      const agent = renderAgent(spec, parseTemplate(readTemplate(spec.kind)));
      delete agent.LimitLoadToSessionType;
      writeFileSync(bare, buildPlistText(agent), { mode: 0o644 });
      assert.not.ok('LimitLoadToSessionType' in readPlist(bare));
      let r = await launchctl(home, ['bootstrap', `user/${UID}`, bare]);
      assert.is(r.code, 134, r.stderr);
      assert.match(r.stderr, /Service cannot load in requested session .*not Background as user\/\d+ needs/);
      // What install renders: both sessions.
      const path = writeAgent(home, spec);
      assert.equal(readPlist(path).LimitLoadToSessionType, ['Aqua', 'Background']);
      r = await launchctl(home, ['bootstrap', `user/${UID}`, path]);
      assert.is(r.code, 0, r.stderr);
      await waitFor(() => readRunState(home, 'test.sessions')?.state === 'running', 10_000, 'the job to run');
      const printed = await launchctl(home, ['print', `user/${UID}/test.sessions`]);
      assert.is(printed.code, 0);
      assert.match(printed.stdout, `\tdomain = user/${UID}\n`);
      assert.is((await launchctl(home, ['print', `gui/${UID}/test.sessions`])).code, 113, 'not in gui/<uid>');
      assert.is((await launchctl(home, ['bootstrap', `gui/${UID}`, path])).code, 5, 'one domain at a time');
      assert.is((await launchctl(home, ['bootout', `user/${UID}/test.sessions`])).code, 0);
      await waitFor(
        async () => (await launchctl(home, ['print', `user/${UID}/test.sessions`])).code === 113,
        30_000,
        'the bootout',
      );
      assert.is((await launchctl(home, ['bootstrap', `gui/${UID}`, path])).code, 0, 'and in gui/<uid>');
      assert.is((await launchctl(home, ['print', `gui/${UID}`])).code, 0, 'the domain itself exists');
    }),
  ),
);

standin(
  'faults: 5, 37, 113 and 125 answer as launchctl does, once or for every gui/ call, and change nothing else',
  withTimeout(30_000, () =>
    withHome(async (home, root) => {
      mkdirSync(join(root, 'logs'));
      const path = writeAgent(home, scriptJob(root, 'test.faults', 'exec sleep 600'));
      setFaults(home, [
        { command: 'bootstrap', code: 37, times: 1 },
        { command: 'bootstrap', code: 5, times: 1 },
      ]);
      let r = await launchctl(home, ['bootstrap', `gui/${UID}`, path]);
      assert.equal([r.code, r.stderr], [37, 'Bootstrap failed: 37: Operation already in progress\n']);
      r = await launchctl(home, ['bootstrap', `gui/${UID}`, path]);
      assert.equal([r.code, r.stderr], [5, 'Bootstrap failed: 5: Input/output error\n']);
      assert.is((await launchctl(home, ['print', `gui/${UID}/test.faults`])).code, 113, 'nothing was loaded');
      assert.equal(readFaults(home), [], 'each used once');
      assert.is((await launchctl(home, ['bootstrap', `gui/${UID}`, path])).code, 0, 'then the real answer');
      await waitFor(() => readRunState(home, 'test.faults')?.state === 'running', 10_000, 'the job to run');
      const pid = readRunState(home, 'test.faults')?.pid ?? null;
      // An injected 113 is true: the job is booted out first.
      setFaults(home, [{ command: 'kickstart', code: 113, times: 1 }]);
      r = await launchctl(home, ['kickstart', '-k', `gui/${UID}/test.faults`]);
      assert.equal([r.code, r.stderr], [113, `Could not find service "test.faults" in domain for user gui: ${UID}\n`]);
      assert.is((await launchctl(home, ['print', `gui/${UID}/test.faults`])).code, 113);
      assert.ok(pid !== null && !isGroupAlive(pid), 'its process ended with it');
      // gui/<uid> refused for every call (SSH, a headless Mac); user/<uid> still works.
      setFaults(home, [{ domain: 'gui', code: 125 }]);
      for (const args of [
        ['bootstrap', `gui/${UID}`, path],
        ['print', `gui/${UID}`],
        ['print', `gui/${UID}/test.faults`],
        ['enable', `gui/${UID}/test.faults`],
      ]) {
        r = await launchctl(home, args);
        assert.is(r.code, 125, args.join(' '));
        assert.match(r.stderr, /Domain does not support specified action/);
      }
      assert.is((await launchctl(home, ['bootstrap', `user/${UID}`, path])).code, 0);
      assert.equal(readFaults(home), [{ domain: 'gui', code: 125 }], 'a fault without times stays');
      const calls = readCalls(home);
      assert.is(calls.filter((c) => c.injected).length, 7, 'injected answers are marked in calls.jsonl');
      assert.is(calls[calls.length - 1].injected, undefined);
    }),
  ),
);

standin.run();
