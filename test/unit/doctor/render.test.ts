/** doctor's report as text and as JSON, from a report given as data. */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { getNextStep, plainStyle, renderJson, renderText } from '../../../src/doctor/render.js';
import type { Report } from '../../../src/doctor/types.js';

const units = suite('doctor: rendering');

const REPORT: Report = {
  site: 'site',
  heading: 'site "site" · http://127.0.0.1:4321/ · process backend',
  url: 'http://127.0.0.1:4321/',
  servedSha: 'abc1234'.padEnd(40, '0'),
  verdict: 'problems',
  checks: [
    { id: 'node', title: 'Node', status: 'ok', summary: 'Node 22 runs abc1234', evidence: ['seen /home/me/.nvm'] },
    {
      id: 'slots',
      title: 'Slots',
      status: 'fail',
      summary: 'the live slot /home/me/ops-local/site/slots/a is missing',
      fix: 'Run localhost-ops sync --name site.',
      command: 'localhost-ops sync --name site',
    },
    { id: 'worktree-clean', title: 'Clean', status: 'skip', summary: 'skipped: slots failed' },
    {
      id: 'logs',
      title: 'Logs',
      status: 'warn',
      summary: '1 recent error line',
      detail: 'boom',
      fix: 'Read it.',
      command: 'tail -n 50 x',
    },
  ],
};

units("text: a line per check, detail and fix under problems, verdict, the first failure's command next", () => {
  const text = renderText(REPORT, { style: plainStyle, verbose: false, home: '/home/me' });
  assert.is(
    text,
    [
      'localhost-ops doctor: site "site" · http://127.0.0.1:4321/ · process backend',
      '',
      '✓ node            Node 22 runs abc1234',
      '✗ slots           the live slot ~/ops-local/site/slots/a is missing',
      '                  fix: Run localhost-ops sync --name site.',
      '- worktree-clean  skipped: slots failed',
      '! logs            1 recent error line',
      '                  boom',
      '                  fix: Read it.',
      '',
      'Verdict: problems (1 failed check, 1 warning)',
      'Next: localhost-ops sync --name site',
      '',
    ].join('\n'),
  );
  assert.match(
    renderText(REPORT, { style: plainStyle, verbose: true, home: '/home/me' }),
    '                  · seen ~/.nvm',
  );
  const healthy = { ...REPORT, verdict: 'ok' as const, checks: [REPORT.checks[0]] };
  assert.match(
    renderText(healthy, { style: plainStyle, verbose: false }),
    /Verdict: ok, every check passed\nNext: nothing to do; the site is at http:\/\/127\.0\.0\.1:4321\/\n$/,
  );
  assert.is(
    getNextStep({ ...REPORT, checks: REPORT.checks.slice(2) }),
    'tail -n 50 x',
    'the first warning when nothing failed',
  );
});

units('JSON: exactly the documented keys, null for absent detail and fix, ~ for $HOME', () => {
  const doc = JSON.parse(renderJson(REPORT, '/home/me'));
  // DESIGN §6: { schemaVersion, site, url, servedSha, verdict, next, checks }.
  assert.equal(Object.keys(doc), ['schemaVersion', 'site', 'url', 'servedSha', 'verdict', 'next', 'checks']);
  assert.is(doc.url, REPORT.url);
  assert.is(doc.servedSha, REPORT.servedSha);
  assert.is(doc.next, 'localhost-ops sync --name site');
  assert.equal(doc.checks[1], {
    id: 'slots',
    title: 'Slots',
    status: 'fail',
    summary: 'the live slot ~/ops-local/site/slots/a is missing',
    detail: null,
    fix: 'Run localhost-ops sync --name site.',
  });
});

units.run();
