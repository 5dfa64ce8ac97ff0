/** launchd job definitions as data: what each agent carries, from the recorded context, and launchctl print. */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import {
  getEntryArgument,
  getHomebrewOptPath,
  getJobContext,
  getJobNode,
  getJobPath,
  getJobSpecs,
} from '../../../src/service/jobs.js';
import { parseTemplate, readTemplate, renderAgent, renderAgentText } from '../../../src/service/launchd/plist.js';
import { describeDomains, getDomains, parsePrint } from '../../../src/service/launchd/index.js';
import { describeFailure, isNoDomain, type FailureContext } from '../../../src/service/launchd/codes.js';
import { siteFor } from '../../helpers/launchd.js';

const render = suite('launchd: rendering');

render('sync and server agents carry their own keys, in the template order', () => {
  const [sync, server] = getJobSpecs(siteFor('/tmp/x', 'site', 120));
  const s = renderAgent(sync, parseTemplate(readTemplate('sync')));
  const v = renderAgent(server, parseTemplate(readTemplate('server')));
  // DESIGN §4, both: resident (kept alive whatever ended them), restarts at most every 10 s,
  // loadable in gui/<uid> (Aqua) and, where that does not exist, user/<uid> (Background).
  for (const agent of [s, v]) {
    assert.is(agent.RunAtLoad, true);
    assert.is(agent.KeepAlive, true);
    assert.is(agent.ThrottleInterval, 10);
    assert.equal(agent.LimitLoadToSessionType, ['Aqua', 'Background']);
    assert.not.ok('StartInterval' in agent, 'sync --watch keeps its own interval');
    assert.is(Object.keys(agent)[0], 'Label');
  }
  // The sync agent's Node runs with a small young generation (DESIGN §3.2, its memory).
  assert.equal((s.ProgramArguments as string[]).slice(1, 2), ['--max-semi-space-size=1']);
  assert.equal((s.ProgramArguments as string[]).slice(3), ['sync', '--watch', '--name', 'site']);
  assert.is(s.ProcessType, 'Background');
  assert.not.ok('ExitTimeOut' in s);
  assert.equal((v.ProgramArguments as string[]).slice(2), ['run', '--name', 'site']);
  assert.is(v.ProcessType, 'Interactive');
  assert.is(v.ExitTimeOut, 20, 'time to free the port');
  // What macOS names in "Background Items Added" and launchctl list: ours, by label and entry.
  for (const agent of [s, v]) {
    assert.match(agent.Label as string, /^localhost-ops\.site\.(sync|server)$/);
    assert.match(getEntryArgument(agent.ProgramArguments as string[]) ?? '', /localhost-ops/);
  }
  // The same spec renders the same bytes: what "unchanged" rests on.
  assert.is(renderAgentText(server), renderAgentText(server));
});

render('job specs come from the recorded context, not from whoever runs the sync', () => {
  const site = siteFor('/tmp/x');
  const before = getJobSpecs(site);
  const saved = { ...process.env };
  try {
    process.env.LOCALHOST_OPS_HOME = '/somewhere/else';
    process.env.PATH = '/another/shell/bin';
    assert.equal(getJobSpecs(site), before);
  } finally {
    process.env = saved;
  }
  for (const spec of before) {
    assert.is(spec.environment.PATH.split(':')[0], '/opt/node@22/bin', 'the pinned Node comes first');
    assert.is(spec.programArguments[0], '/usr/local/bin/node');
    assert.is(getEntryArgument(spec.programArguments), '/opt/localhost-ops/bin/localhost-ops.js');
    assert.not.ok('LOCALHOST_OPS_HOME' in spec.environment);
  }
});

render('a control character is refused with the value named', () => {
  const [sync] = getJobSpecs(siteFor('/tmp/a\nb'));
  assert.throws(() => renderAgentText(sync), /control character/);
});

render('parsePrint reads only state, pid and last exit code at the service level', () => {
  const text = [
    'gui/501/localhost-ops.site.server = {',
    '\tactive count = 1',
    '\tpath = /Users/me/Library/LaunchAgents/localhost-ops.site.server.plist',
    '\tstate = running',
    '\tevent triggers = {',
    '\t\tstate = inactive',
    '\t}',
    '\truns = 3',
    '\tpid = 4242',
    '\tlast exit code = 78: EX_CONFIG',
    '}',
  ].join('\n');
  assert.equal(parsePrint(text), { state: 'running', pid: 4242, lastExit: 78 });
  assert.equal(parsePrint('x = {\n\tstate = not running\n\tlast exit code = (never exited)\n}\n'), {
    state: 'not running',
    pid: null,
    lastExit: null,
  });
  assert.equal(
    parsePrint('x = {\n    state = running\n    pid = 7\n}\n'),
    { state: 'running', pid: 7, lastExit: null },
    'space-indented',
  );
});

render.run();

// ------------------------------------------------------------ launchctl's codes, decoded

const codes = suite("launchd: launchctl's codes as one sentence and its fix");

const INSTALL = 'localhost-ops install --repo ~/dev/site --name site';
const base: FailureContext = {
  args: ['bootstrap', 'gui/501', '/Users/me/Library/LaunchAgents/localhost-ops.site.sync.plist'],
  code: 0,
  said: '',
  label: 'localhost-ops.site.sync',
  domain: 'gui/501',
  plist: '/Users/me/Library/LaunchAgents/localhost-ops.site.sync.plist',
  program: '/opt/homebrew/opt/node@22/bin/node',
  workingDirectory: '/Users/me/ops-local/site',
  install: INSTALL,
};

codes('each code users meet reads as one sentence naming the agent, with a fix that names a command', () => {
  const table: [Partial<FailureContext>, RegExp, RegExp][] = [
    [
      { code: 5, said: 'Bootstrap failed: 5: Input/output error' },
      /^launchd would not load .*localhost-ops\.site\.sync\.plist into gui\/501 \(launchctl bootstrap 5, Input\/output error: "Bootstrap failed: 5: Input\/output error"\), even after booting out localhost-ops\.site\.sync and trying again: the plist, or a path it names, is bad\.$/,
      /^Check it with plutil -lint \S+\.plist and that \/opt\/homebrew\/opt\/node@22\/bin\/node and \/Users\/me\/ops-local\/site exist, then run localhost-ops install --repo ~\/dev\/site --name site\.$/,
    ],
    [
      { code: 37, tries: 6 },
      /^launchd was still busy with localhost-ops\.site\.sync in gui\/501 \(tried 6 times\) \(launchctl bootstrap 37, Operation already in progress\)/,
      /^Wait a few seconds, then run localhost-ops install /,
    ],
    [
      { code: 113, args: ['kickstart', '-k', 'gui/501/localhost-ops.site.sync'] },
      /^localhost-ops\.site\.sync is not loaded in gui\/501 \(launchctl kickstart 113, Could not find service\)\.$/,
      /^Run localhost-ops install .*: it loads the agent\.$/,
    ],
    [
      { code: 125, domain: 'user/501', said: 'Bootstrap failed: 125: Domain does not support specified action' },
      /neither gui\/ nor user\/ accepted it \(launchctl bootstrap 125, Domain does not support specified action/,
      /^Log in as this user .* and run localhost-ops install .* there, or install with --service process\.$/,
    ],
    [
      { code: 119 },
      /is disabled in gui\/501/,
      /^Run launchctl enable gui\/501\/localhost-ops\.site\.sync, then localhost-ops install /,
    ],
    [
      { code: 134 },
      /may not load in gui\/501 .*LimitLoadToSessionType/,
      /LimitLoadToSessionType Aqua and Background\.$/,
    ],
    [{ code: 122 }, /bad ownership\/permissions/, /^Run chmod 644 /],
    [
      { code: 1, said: 'something\nelse' },
      /^launchctl bootstrap gui\/501 \S+ failed with exit 1: "something else"\.$/,
      /launchd-\*\.log/,
    ],
  ];
  for (const [over, message, fix] of table) {
    const d = describeFailure({ ...base, ...over });
    assert.match(d.message, message, `${over.code}: ${d.message}`);
    assert.match(d.fix, fix, `${over.code}: ${d.fix}`);
    assert.is(d.message.split(/\.\s/).length, 1, `${over.code}: one sentence`);
  }
});

codes('112 and 125 say the domain is not there; 113 says the service is not', () => {
  assert.ok(isNoDomain(125) && isNoDomain(112));
  assert.not.ok(isNoDomain(113) || isNoDomain(5) || isNoDomain(0));
});

codes('agents in user/<uid> (the 125 fallback) are a warning that says why; gui/<uid> is silence', () => {
  const { gui, user } = getDomains(501);
  assert.equal([gui, user], ['gui/501', 'user/501']);
  const quiet = describeDomains({ sync: gui, server: gui }, 501, true, INSTALL);
  assert.is(quiet.warning, undefined);
  assert.is(quiet.note, '');
  assert.equal(quiet.evidence, ['sync agent: loaded in gui/501', 'server agent: loaded in gui/501']);
  const headless = describeDomains({ sync: user, server: user }, 501, false, INSTALL);
  assert.match(
    headless.warning?.summary ?? '',
    /^the jobs run in user\/501, not gui\/501: no one is logged in at this Mac's screen/,
  );
  assert.match(headless.warning?.summary ?? '', /launchctl 125/);
  assert.match(
    headless.warning?.fix ?? '',
    /log in at the screen and run localhost-ops install .*: it moves them into gui\/501/,
  );
  assert.is(headless.warning?.command, INSTALL);
  assert.is(headless.note, ', in user/501');
  const later = describeDomains({ sync: user, server: gui }, 501, true, INSTALL);
  assert.match(later.warning?.summary ?? '', /loaded in user\/501, not gui\/501, though a GUI session exists now/);
  assert.match(later.warning?.fix ?? '', /^Run localhost-ops install .*: it moves them into gui\/501\.$/);
});

codes.run();

// ------------------------------------------------------------ the jobs' Node and PATH

const path = suite("launchd: the jobs' Node and PATH survive a Node upgrade");

path('a Homebrew Cellar Node is recorded by its opt/ link, which `brew upgrade` keeps', () => {
  assert.is(getHomebrewOptPath('/opt/homebrew/Cellar/node@22/22.3.0/bin/node'), '/opt/homebrew/opt/node@22/bin/node');
  assert.is(getHomebrewOptPath('/usr/local/Cellar/node/23.1.0_1/bin/node'), '/usr/local/opt/node/bin/node');
  for (const other of [
    '/Users/me/.nvm/versions/node/v22.3.0/bin/node',
    '/usr/local/bin/node',
    '/opt/homebrew/Cellar/node',
  ])
    assert.is(getHomebrewOptPath(other), null, other);
  // On disk: the opt link is taken only when it is the very binary that runs.
  const root = mkdtempSync(join(tmpdir(), 'lops-brew-'));
  try {
    const cellar = join(root, 'Cellar', 'node@22', '22.3.0', 'bin', 'node');
    mkdirSync(dirname(cellar), { recursive: true });
    writeFileSync(cellar, '');
    assert.is(getJobNode(cellar), cellar, 'no opt link: the path itself');
    mkdirSync(join(root, 'opt'), { recursive: true });
    symlinkSync(join(root, 'Cellar', 'node@22', '22.3.0'), join(root, 'opt', 'node@22'));
    assert.is(getJobNode(cellar), join(root, 'opt', 'node@22', 'bin', 'node'));
    assert.is(getJobNode(process.execPath), process.execPath);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

path(
  "the jobs' PATH is the pinned Node, the running Node, git's and launchctl's folders and the system's: no shell PATH",
  () => {
    const root = mkdtempSync(join(tmpdir(), 'lops-path-'));
    try {
      const tools = join(root, 'tools', 'bin');
      mkdirSync(tools, { recursive: true });
      for (const name of ['git', 'launchctl']) {
        writeFileSync(join(tools, name), '#!/bin/sh\n');
        chmodSync(join(tools, name), 0o755);
      }
      const shellPath = ['/Users/me/.nvm/versions/node/v18.0.0/bin', '/Users/me/.fnm/aliases/default/bin', tools].join(
        ':',
      );
      const context = getJobContext(
        '/opt/homebrew/opt/node@22/bin',
        { PATH: shellPath, HOME: '/Users/me' },
        '/usr/local/bin/node',
      );
      assert.is(context.node, '/usr/local/bin/node', 'the absolute Node that ran install');
      assert.equal(context.pathDirs, ['/usr/local/bin', tools]);
      const dirs = getJobPath(context).split(':');
      assert.is(dirs[0], '/opt/homebrew/opt/node@22/bin', 'the pinned Node first');
      for (const frozen of ['/Users/me/.nvm/versions/node/v18.0.0/bin', '/Users/me/.fnm/aliases/default/bin'])
        assert.not.ok(dirs.includes(frozen), `${frozen} of the shell's PATH is not frozen into the jobs`);
      for (const system of ['/usr/bin', '/bin', '/usr/sbin', '/sbin']) assert.ok(dirs.includes(system), system);
      assert.equal(context.env, { HOME: '/Users/me' });
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  },
);

path.run();
