/** launchd job definitions as data: what each agent carries, from the recorded context, and launchctl print. */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { getJobSpecs } from '../../../src/service/jobs.js';
import { parseTemplate, readTemplate, renderAgent, renderAgentText } from '../../../src/service/launchd/plist.js';
import { parsePrint } from '../../../src/service/launchd/index.js';
import { siteFor } from '../../helpers/launchd.js';

const render = suite('launchd: rendering');

render('sync and server agents carry their own keys, in the template order', () => {
  const [sync, server] = getJobSpecs(siteFor('/tmp/x', 'site', 120));
  const s = renderAgent(sync, parseTemplate(readTemplate('sync')));
  // The sync agent is resident (sync --watch keeps its own interval): launchd keeps it alive.
  assert.not.ok('StartInterval' in s);
  assert.is(s.KeepAlive, true);
  assert.equal((s.ProgramArguments as string[]).slice(2), ['sync', '--watch', '--name', 'site']);
  assert.is(s.ProcessType, 'Background');
  assert.is(s.RunAtLoad, true);
  assert.is(Object.keys(s)[0], 'Label');
  const v = renderAgent(server, parseTemplate(readTemplate('server')));
  assert.equal(v.KeepAlive, { SuccessfulExit: false });
  assert.is(v.ProcessType, 'Interactive');
  assert.is(v.RunAtLoad, true);
  assert.ok(Number.isInteger(v.ThrottleInterval) && (v.ThrottleInterval as number) > 0);
  assert.ok(Number.isInteger(v.ExitTimeOut) && (v.ExitTimeOut as number) >= 10, 'time to free the port');
  assert.not.ok('StartInterval' in v);
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
    assert.equal(spec.programArguments.slice(0, 2), ['/usr/local/bin/node', '/opt/localhost-ops/bin/localhost-ops.js']);
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
