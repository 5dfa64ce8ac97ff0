/**
 * The systemd backend's pure parts (issue 12): quoting by systemd's three rules, the unit
 * rendered from templates/systemd/ and read back, `show` parsing, and the decisions (what
 * apply does to a unit, which backend install picks). The e2e suite runs the same units
 * under a real systemd.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import {
  EXEC_WRAPPER,
  describeExit,
  escapePath,
  formatExecStart,
  getUnitName,
  getUnitProgramArguments,
  isUnitFailing,
  parseSections,
  parseShow,
  parseUnitText,
  planUnit,
  quoteEnvironment,
  quoteExecWord,
  readUnitTemplate,
  renderUnitText,
  splitWords,
  type UnitState,
} from '../../../src/service/systemd/unit.js';
import { getUnitDir } from '../../../src/service/systemd/index.js';
import { getNoManagerFix, readLingering, readProbe } from '../../../src/service/systemd/systemctl.js';
import { pickService, type SiteConfig } from '../../../src/site/config.js';
import { verifyService } from '../../../src/install/validate.js';
import { OpsError, UserError } from '../../../src/errors.js';
import type { JobKind, JobSpec } from '../../../src/service/jobs.js';

const ODD = `/tmp/we ird $HOME $$ %n %% "dq" 'sq' back\\slash ünï 日本`;

function specFor(kind: JobKind, over: Partial<JobSpec> = {}): JobSpec {
  return {
    kind,
    label: `localhost-ops.site.${kind}`,
    programArguments: ['/usr/local/bin/node', '/opt/localhost-ops/bin/localhost-ops.js', kind, '--name', 'site'],
    workingDirectory: '/home/me/ops-local/site',
    environment: { HOME: '/home/me', PATH: '/opt/node22/bin:/usr/bin:/bin' },
    stdoutPath: `/home/me/ops-local/site/logs/systemd-${kind}.log`,
    stderrPath: `/home/me/ops-local/site/logs/systemd-${kind}.log`,
    ...(kind === 'sync' ? { interval: 60 } : {}),
    ...over,
  };
}

function throwsOps(fn: () => unknown, pattern: RegExp): void {
  try {
    fn();
  } catch (err) {
    assert.instance(err, OpsError);
    assert.match((err as Error).message, pattern);
    return;
  }
  assert.unreachable(`expected an OpsError matching ${pattern}`);
}

// ---------------------------------------------------------------- quoting

const quoting = suite('systemd: quoting');

quoting('ExecStart= arguments: `$` → `$$`, `%` → `%%`, quotes and C escapes where needed', () => {
  const table: [string, string][] = [
    ['plain', 'plain'],
    ['--name', '--name'],
    ['/a/b.js', '/a/b.js'],
    ['a b', '"a b"'],
    ['q"uote', '"q\\"uote"'],
    ["s'q", `"s'q"`],
    ['$HOME', '$$HOME'],
    ['${HOME}', '"$${HOME}"'],
    ['100%', '100%%'],
    ['%n', '%%n'],
    ['back\\slash', '"back\\\\slash"'],
    ['', '""'],
    [';', '";"'],
    ['tab\there', '"tab\\there"'],
    ['new\nline', '"new\\nline"'],
    ['bell\u0007', '"bell\\a"'],
    ['esc\u001b', '"esc\\x1b"'],
    ['ünï 日本', '"ünï 日本"'],
  ];
  for (const [word, quoted] of table) assert.is(quoteExecWord(word), quoted, JSON.stringify(word));
  throwsOps(() => quoteExecWord('nul\u0000'), /NUL/);
  throwsOps(() => quoteExecWord('half \uD800'), /invalid character/);
});

quoting('the program word: `%` doubled, `$` kept; a quote, backslash or `$` in it runs through /bin/sh', () => {
  assert.is(formatExecStart(['/usr/bin/node', 'a b']), '/usr/bin/node "a b"');
  assert.is(formatExecStart(['/opt/my node/bin/node', '-v']), '"/opt/my node/bin/node" -v');
  assert.is(formatExecStart(['/opt/100%/node']), '/opt/100%%/node');
  for (const program of [`/home/o'brien/node`, '/home/a"b/node', '/home/a\\b/node', '/home/$x/node', '-node']) {
    const line = formatExecStart([program, '$x']);
    assert.ok(line.startsWith('/bin/sh -c "exec \\"$$0\\" \\"$$@\\"" '), line);
    assert.equal(splitWords(line).slice(0, 3), ['/bin/sh', '-c', 'exec "$$0" "$$@"']);
    // read back, the wrapper is gone and the words are the spec's
    const parsed = parseUnitText(`[Service]\nExecStart=${line}\n`)!;
    assert.equal(getUnitProgramArguments(parsed), [program, '$x']);
    assert.equal((parsed.Service as Record<string, string[]>).ExecStart.slice(0, 3), EXEC_WRAPPER);
  }
  throwsOps(() => formatExecStart([]), /no program/);
});

quoting('Environment=: `%` doubled, `$` literal (systemd expands nothing there), quoted when needed', () => {
  const table: [string, string, string][] = [
    ['HOME', '/home/me', 'HOME=/home/me'],
    ['PATH', '/a/bin:/usr/bin', 'PATH=/a/bin:/usr/bin'],
    ['X', 'a b', '"X=a b"'],
    ['X', '$HOME', 'X=$HOME'],
    ['X', '50%', 'X=50%%'],
    ['X', 'q"uote', '"X=q\\"uote"'],
    ['X', 'back\\slash', '"X=back\\\\slash"'],
    ['X', '', 'X='],
    ['X', 'two\nlines', '"X=two\\nlines"'],
  ];
  for (const [key, value, quoted] of table) assert.is(quoteEnvironment(key, value), quoted, `${key}=${value}`);
  throwsOps(() => quoteEnvironment('1X', 'v'), /not a valid environment variable name/);
  throwsOps(() => quoteEnvironment('A B', 'v'), /not a valid environment variable name/);
});

quoting('paths: `%` doubled, the rest as is; refused when systemd would read them otherwise', () => {
  assert.is(escapePath(ODD, 'log path'), ODD.replace(/%/g, '%%'));
  assert.is(escapePath('/a b/c', 'log path'), '/a b/c');
  for (const bad of ['relative/path', '/a\nb', '/ends/in\\', '/ends/in ', ' /starts']) {
    throwsOps(() => escapePath(bad, 'working directory'), /cannot be written in a systemd unit/);
  }
});

quoting('splitWords reads words as systemd does: quotes (also mid-word), C escapes, whitespace', () => {
  const table: [string, string[]][] = [
    ['a b  c', ['a', 'b', 'c']],
    ['"a b" c', ['a b', 'c']],
    ["'a \" b' c", ['a " b', 'c']],
    ['x"a b"y', ['xa by']],
    ['"a\\"b" \\x41\\s\\t', ['a"b', 'A \t']],
    ['"" x', ['', 'x']],
    ['"\\u00fc\\303"', ['ü\u00c3']],
    ['  ', []],
  ];
  for (const [text, words] of table) assert.equal(splitWords(text), words, text);
});

// ---------------------------------------------------------------- the unit

const render = suite('systemd: rendering');

render('unit names and the user unit folder', () => {
  assert.is(getUnitName('my-site', 'sync'), 'localhost-ops-my-site-sync.service');
  assert.is(getUnitName('my-site', 'server'), 'localhost-ops-my-site-server.service');
  assert.is(getUnitDir({ HOME: '/home/me' }), '/home/me/.config/systemd/user');
  assert.is(getUnitDir({ HOME: '/home/me', XDG_CONFIG_HOME: '/cfg' }), '/cfg/systemd/user');
  // The XDG spec: a relative XDG_CONFIG_HOME is invalid and ignored.
  assert.is(getUnitDir({ HOME: '/home/me', XDG_CONFIG_HOME: 'cfg' }), '/home/me/.config/systemd/user');
});

render('the templates give both jobs DESIGN §4’s settings; the server alone gets TimeoutStopSec', () => {
  for (const kind of ['sync', 'server'] as const) {
    const text = renderUnitText(specFor(kind));
    assert.ok(text.endsWith('\n'));
    const unit = parseSections(text);
    assert.equal(Object.keys(unit), ['Unit', 'Service', 'Install']);
    assert.is(unit.Unit.Description, `localhost-ops ${kind} job (localhost-ops.site.${kind})`);
    assert.is(unit.Unit.StartLimitIntervalSec, '0', 'never given up on');
    const service = unit.Service;
    assert.is(service.Type, 'simple');
    assert.is(service.Restart, 'always');
    assert.is(service.RestartSec, '2');
    assert.is(service.KillMode, 'mixed');
    assert.is(service.TimeoutStopSec, kind === 'server' ? '20' : undefined);
    assert.is(service.ExecStart, `/usr/local/bin/node /opt/localhost-ops/bin/localhost-ops.js ${kind} --name site`);
    assert.is(service.WorkingDirectory, '/home/me/ops-local/site');
    assert.equal(service.Environment, ['HOME=/home/me', 'PATH=/opt/node22/bin:/usr/bin:/bin']);
    assert.is(service.StandardOutput, `append:/home/me/ops-local/site/logs/systemd-${kind}.log`);
    assert.is(service.StandardError, `append:/home/me/ops-local/site/logs/systemd-${kind}.log`);
    assert.is(unit.Install.WantedBy, 'default.target');
  }
  // The interval does not reach the unit: the sync job is resident, like the server.
  assert.is(renderUnitText(specFor('sync', { interval: 60 })), renderUnitText(specFor('sync', { interval: 3600 })));
  // No variables, no Environment= line (an empty one would reset the list).
  assert.not.match(renderUnitText(specFor('server', { environment: {} })), /^Environment=/m);
});

render('every awkward value survives render → parse: argv, environment, paths', () => {
  const args = [
    'a b',
    'q"uote',
    "s'q",
    '$HOME',
    '${X}',
    '$$',
    '%n',
    '%%',
    'back\\slash',
    'end\\',
    '',
    ';',
    't\tn\n',
    'ü 日',
  ];
  const spec = specFor('server', {
    programArguments: [`${ODD}/bin/node`, `${ODD}/entry.js`, 'run', ...args],
    workingDirectory: `${ODD}/site`,
    environment: { HOME: ODD, ODD: `${ODD} $X \${Y} tab\t`, EMPTY: '' },
    stdoutPath: `${ODD}/logs/out.log`,
    stderrPath: `${ODD}/logs/err.log`,
  });
  const parsed = parseUnitText(renderUnitText(spec))!;
  assert.equal(getUnitProgramArguments(parsed), spec.programArguments);
  const service = parsed.Service as Record<string, unknown>;
  assert.equal(service.Environment, spec.environment);
  assert.is(service.WorkingDirectory, spec.workingDirectory);
  assert.is(service.StandardOutput, `append:${spec.stdoutPath}`);
  assert.is(service.StandardError, `append:${spec.stderrPath}`);
  // One setting per line: nothing in a value broke a line.
  const text = renderUnitText(spec);
  assert.is(text.split('\n').filter((l) => l.startsWith('ExecStart=')).length, 1);
});

render('a template without a slot, or with one twice, is an error that names it', () => {
  const template = readUnitTemplate('server');
  throwsOps(
    () => renderUnitText(specFor('server'), template.replace(/^ExecStart=$/m, '')),
    /lacks the empty ExecStart=/,
  );
  throwsOps(
    () =>
      renderUnitText(
        specFor('server'),
        template.replace(/^WorkingDirectory=$/m, 'WorkingDirectory=\nWorkingDirectory='),
      ),
    /WorkingDirectory= twice/,
  );
  throwsOps(() => renderUnitText(specFor('server', { workingDirectory: 'relative' })), /working directory/);
});

render('parseSections: comments, continuation lines, repeated keys in order', () => {
  const text = [
    '# comment',
    '; another',
    '[Unit]',
    'Description=x',
    '[Service]',
    'Environment=A=1',
    'Environment=B=2',
    'ExecStart=/bin/a \\',
    '  b c',
    '  # indented comment',
    'Restart = always',
    '',
  ].join('\n');
  assert.equal(parseSections(text), {
    Unit: { Description: 'x' },
    Service: { Environment: ['A=1', 'B=2'], ExecStart: '/bin/a    b c', Restart: 'always' },
  });
  assert.equal(parseUnitText(text)!.Service, {
    Environment: { A: '1', B: '2' },
    ExecStart: ['/bin/a', 'b', 'c'],
    Restart: 'always',
  });
  // An empty Environment= resets; the last ExecStart= counts.
  const reset = parseUnitText(
    '[Service]\nEnvironment=A=1\nEnvironment=\nEnvironment=B=2\nExecStart=/x\nExecStart=/y\n',
  );
  assert.equal(reset!.Service, { Environment: { B: '2' }, ExecStart: ['/y'] });
  assert.is(parseUnitText('[Unit]\nDescription=no service\n'), null);
  assert.is(parseUnitText('garbage'), null);
});

// ---------------------------------------------------------------- state and decisions

const decide = suite('systemd: show and decisions');

const state = (over: Partial<UnitState> = {}): UnitState => ({
  loadState: 'loaded',
  activeState: 'active',
  subState: 'running',
  mainPid: 42,
  execMainStatus: 0,
  nRestarts: 0,
  unitFileState: 'enabled',
  needDaemonReload: false,
  ...over,
});

decide('parseShow reads Key=Value lines in any order', () => {
  const text =
    'MainPID=1234\nNRestarts=3\nExecMainStatus=0\nActiveState=active\nSubState=running\nLoadState=loaded\nUnitFileState=enabled\nNeedDaemonReload=no\n';
  assert.equal(parseShow(text), state({ mainPid: 1234, nRestarts: 3 }));
  assert.equal(
    parseShow(
      'LoadState=not-found\nActiveState=inactive\nSubState=dead\nMainPID=0\nExecMainStatus=0\nNRestarts=0\nUnitFileState=\nNeedDaemonReload=yes',
    ),
    state({
      loadState: 'not-found',
      activeState: 'inactive',
      subState: 'dead',
      mainPid: null,
      unitFileState: '',
      needDaemonReload: true,
    }),
  );
  assert.equal(parseShow(''), {
    loadState: '',
    activeState: '',
    subState: '',
    mainPid: null,
    execMainStatus: null,
    nRestarts: 0,
    unitFileState: '',
    needDaemonReload: false,
  });
});

decide('planUnit: changed units restart, stopped ones start, unchanged running ones are left alone', () => {
  const down = state({ activeState: 'inactive', subState: 'dead', mainPid: null });
  const restarting = state({ activeState: 'activating', subState: 'auto-restart', mainPid: null, execMainStatus: 1 });
  const table: [JobKind, boolean, UnitState, { enable: boolean; action: string }][] = [
    ['server', false, state(), { enable: false, action: 'none' }],
    ['sync', false, state(), { enable: false, action: 'none' }],
    ['server', true, state(), { enable: false, action: 'restart' }],
    ['sync', true, state(), { enable: false, action: 'restart' }],
    ['server', false, down, { enable: false, action: 'start' }],
    ['server', true, down, { enable: false, action: 'start' }],
    ['server', false, state({ ...down, unitFileState: 'disabled' }), { enable: true, action: 'start' }],
    ['server', false, state({ unitFileState: 'disabled' }), { enable: true, action: 'none' }],
    // A crashed server waiting out RestartSec is started now; the sync job may wait.
    ['server', false, restarting, { enable: false, action: 'restart' }],
    ['sync', false, restarting, { enable: false, action: 'none' }],
    [
      'server',
      false,
      state({ activeState: 'failed', subState: 'failed', mainPid: null }),
      { enable: false, action: 'start' },
    ],
  ];
  for (const [kind, changed, s, want] of table) {
    assert.equal(planUnit(kind, changed, s), want, `${kind} changed=${changed} ${s.activeState}/${s.subState}`);
  }
});

decide('failing and exit descriptions', () => {
  assert.is(isUnitFailing(state()), false);
  assert.is(isUnitFailing(state({ subState: 'auto-restart', activeState: 'activating', execMainStatus: 0 })), false);
  assert.is(isUnitFailing(state({ subState: 'auto-restart', activeState: 'activating', execMainStatus: 1 })), true);
  assert.is(isUnitFailing(state({ activeState: 'failed', subState: 'failed' })), true);
  assert.is(describeExit(1), 'exited with status 1');
  assert.is(describeExit(null), 'stopped');
  assert.is(
    describeExit(203, specFor('server')),
    'failed with status 203 (its program /usr/local/bin/node could not be executed)',
  );
  assert.match(describeExit(200, specFor('server')), 'its working directory /home/me/ops-local/site');
});

decide('pickService: launchd on macOS, systemd on Linux when a user manager answered, else process', () => {
  const table: [string, boolean, string][] = [
    ['darwin', false, 'launchd'],
    ['darwin', true, 'launchd'],
    ['linux', true, 'systemd'],
    ['linux', false, 'process'],
    ['freebsd', true, 'process'],
    ['win32', false, 'process'],
  ];
  for (const [platform, systemd, want] of table) assert.is(pickService(platform, systemd), want, platform);
  assert.is(pickService('linux'), 'process', 'no probe answer: process');
});

decide('the probe: running or degraded is a yes; no manager names XDG_RUNTIME_DIR', () => {
  const r = (stdout: string, stderr = '', code = 0) => ({ code, stdout, stderr });
  assert.is(readProbe(r('running\n')).available, true);
  assert.equal(readProbe(r('degraded\n', '', 1)), { available: true, state: 'degraded', problem: '', fix: '' });
  const starting = readProbe(r('starting\n', '', 1));
  assert.equal([starting.available, starting.state], [false, 'starting']);
  assert.match(starting.problem, 'it is starting');
  const none = readProbe(r('', 'Failed to connect to bus: No medium found\n', 1));
  assert.is(none.available, false);
  assert.is(none.problem, 'no user manager answers systemctl --user (Failed to connect to bus: No medium found)');
  assert.match(none.fix, 'XDG_RUNTIME_DIR');
  assert.match(readProbe(null).problem, 'systemctl is not on PATH');
  assert.match(getNoManagerFix(undefined, 'ann', 1000), 'XDG_RUNTIME_DIR is not set');
  assert.match(getNoManagerFix(undefined, 'ann', 1000), 'loginctl enable-linger ann');
  assert.match(getNoManagerFix('/tmp/x', 'ann', 1000), 'XDG_RUNTIME_DIR is /tmp/x, where no user manager listens');
  assert.match(getNoManagerFix('/tmp/x', 'ann', 1000), 'XDG_RUNTIME_DIR=/run/user/1000');
});

decide('lingering: yes, no, or unknown when loginctl cannot answer', () => {
  const r = (stdout: string, stderr = '', code = 0) => ({ code, stdout, stderr });
  assert.equal(readLingering('ann', r('Linger=yes\n')), { user: 'ann', enabled: true, reason: '' });
  assert.equal(readLingering('ann', r('Linger=no\n')), { user: 'ann', enabled: false, reason: '' });
  assert.equal(readLingering('ann', r('', 'Failed to get user: User ID 1000 is not logged in or lingering', 1)), {
    user: 'ann',
    enabled: false,
    reason: '',
  });
  assert.equal(readLingering('ann', r('', 'Failed to connect to bus: No such file or directory', 1)), {
    user: 'ann',
    enabled: null,
    reason: 'loginctl could not answer (Failed to connect to bus: No such file or directory)',
  });
  assert.equal(readLingering('ann', null), { user: 'ann', enabled: null, reason: 'loginctl is not on PATH' });
});

decide('verifyService refuses --service systemd (exit 2) when the probe found no user manager', () => {
  const config = { service: 'systemd' } as SiteConfig;
  const none = readProbe({ code: 1, stdout: '', stderr: 'Failed to connect to bus: No medium found' });
  try {
    verifyService(config, none);
    assert.unreachable('refused');
  } catch (err) {
    assert.instance(err, UserError);
    assert.is((err as UserError).exitCode, 2);
    assert.match((err as UserError).message, '--service systemd needs a systemd user manager, and no user manager');
    assert.match((err as UserError).fix, 'XDG_RUNTIME_DIR');
    assert.match((err as UserError).fix, 'Or pass --service process.');
  }
  verifyService(config, readProbe({ code: 0, stdout: 'running\n', stderr: '' }));
  verifyService(config); // no probe given: nothing to refuse on
});

quoting.run();
render.run();
decide.run();
