/**
 * launchd plists on disk, on Linux: what we render reads back the same in Python's plistlib,
 * and the launchctl stand-in (test/helpers/bin/launchctl) runs them the way launchd would.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { getJobSpecs, type JobSpec } from '../../../src/service/jobs.js';
import { renderAgentText } from '../../../src/service/launchd/plist.js';
import { getAgentPath, parsePrint } from '../../../src/service/launchd/index.js';
import { Fixture, waitFor, withTimeout } from '../../helpers/fixture.js';
import { UID, launchctl, readRunState, stopStandin } from '../../helpers/launchctl-standin.js';
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

function writeAgent(home: string, spec: JobSpec): string {
  const path = getAgentPath(spec.label, home);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, renderAgentText(spec), { mode: 0o644 });
  return path;
}

/** A sync-kind job that runs a shell script instead of the tool. */
function scriptJob(root: string, label: string, script: string, over: Partial<JobSpec> = {}): JobSpec {
  return {
    kind: 'sync',
    label,
    programArguments: ['/bin/sh', '-c', script],
    workingDirectory: root,
    environment: { HOME: join(root, 'home'), ONLY: 'this & that' },
    stdoutPath: join(root, 'logs', `${label}.log`),
    stderrPath: join(root, 'logs', `${label}.log`),
    interval: 3600,
    ...over,
  };
}

standin(
  'a good plist runs with exactly its environment, folder and logs; 5 when loaded twice',
  withTimeout(30_000, () =>
    withHome(async (home, root) => {
      mkdirSync(join(root, 'logs'));
      const path = writeAgent(home, scriptJob(root, 'test.good', 'env > env.txt; pwd; echo to-stderr >&2'));
      assert.is((await launchctl(home, ['bootstrap', `gui/${UID}`, path])).code, 0);
      await waitFor(() => readRunState(home, 'test.good')?.lastExit === 0, 10_000, 'the job to run');
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
      const printed = parsePrint((await launchctl(home, ['print', `gui/${UID}/test.good`])).stdout);
      assert.equal(printed, { state: 'not running', pid: null, lastExit: 0 });
      assert.is((await launchctl(home, ['bootout', `gui/${UID}/test.good`])).code, 0);
      await waitFor(
        async () => (await launchctl(home, ['print', `gui/${UID}/test.good`])).code === 113,
        10_000,
        'the bootout',
      );
    }),
  ),
);

standin(
  'a WorkingDirectory or log folder that does not exist fails the job with 78',
  withTimeout(30_000, () =>
    withHome(async (home, root) => {
      const cases = [
        scriptJob(root, 'test.nowhere', 'touch ran.txt', { workingDirectory: join(root, 'no', 'such', 'folder') }),
        scriptJob(root, 'test.nologs', 'touch ran.txt', {
          stdoutPath: join(root, 'missing-logs', 'x.log'),
          stderrPath: join(root, 'missing-logs', 'x.log'),
        }),
      ];
      for (const spec of cases) {
        assert.is(
          (await launchctl(home, ['bootstrap', `gui/${UID}`, writeAgent(home, spec)])).code,
          0,
          'launchd loads it',
        );
        await waitFor(() => readRunState(home, spec.label)?.lastExit === 78, 10_000, `${spec.label} to fail with 78`);
        const printed = parsePrint((await launchctl(home, ['print', `gui/${UID}/${spec.label}`])).stdout);
        assert.equal(printed, { state: 'not running', pid: null, lastExit: 78 });
      }
      assert.not.ok(existsSync(join(root, 'ran.txt')), 'the program never ran');
    }),
  ),
);

standin(
  'a plist others may write, or with a mistyped key, is refused',
  withTimeout(30_000, () =>
    withHome(async (home, root) => {
      const path = writeAgent(home, scriptJob(root, 'test.loose', 'true'));
      chmodSync(path, 0o666);
      assert.is((await launchctl(home, ['bootstrap', `gui/${UID}`, path])).code, 5);
      chmodSync(path, 0o644);
      writeFileSync(path, readFileSync(path, 'utf8').replace('<key>StartInterval</key>', '<key>StartIntervall</key>'));
      const r = await launchctl(home, ['bootstrap', `gui/${UID}`, path]);
      assert.is(r.code, 5);
      assert.match(r.stderr, /unknown key StartIntervall/);
    }),
  ),
);

standin.run();
