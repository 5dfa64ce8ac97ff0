/** doctor's runner: dependencies skip their dependents, checks run concurrently, the verdict and exit code. */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { CHECKS } from '../../../src/doctor/checks/index.js';
import { runChecks } from '../../../src/doctor/run-checks.js';
import type { DoctorContext } from '../../../src/doctor/context.js';
import {
  fail,
  getExitCode,
  getVerdict,
  ok,
  warn,
  type Check,
  type CheckId,
  type CheckResult,
} from '../../../src/doctor/types.js';

const units = suite('doctor: runner, verdict');

function fake(id: CheckId, dependsOn: CheckId[], result: CheckResult | (() => Promise<CheckResult>)): Check {
  return { id, title: id, dependsOn, run: async () => (typeof result === 'function' ? result() : result) };
}

units('a failed dependency skips its dependents, transitively, naming the root cause', async () => {
  const checks = [
    fake('node', ['canonical'], ok('fine')),
    fake('canonical', [], fail('gone', 'put it back', 'restore')),
    fake('worktree', ['canonical'], ok('never runs')),
    fake('worktree-clean', ['worktree'], ok('never runs')),
    fake('paths', [], warn('loose', 'chmod', 'chmod go-w x')),
    fake('service', ['paths'], ok('a warning does not skip')),
  ];
  const reports = await runChecks(checks, {} as DoctorContext);
  assert.equal(
    reports.map((r) => [r.id, r.status]),
    [
      ['node', 'skip'],
      ['canonical', 'fail'],
      ['worktree', 'skip'],
      ['worktree-clean', 'skip'],
      ['paths', 'warn'],
      ['service', 'ok'],
    ],
  );
  assert.is(reports[3].summary, 'skipped: canonical failed');
  assert.is(getVerdict(reports), 'problems');
  assert.is(getExitCode(getVerdict(reports)), 1);
  assert.is(getVerdict(reports.filter((r) => r.status !== 'fail')), 'warnings');
  assert.is(getExitCode('warnings'), 0);
  assert.is(getVerdict([{ status: 'ok' }, { status: 'skip' }]), 'ok');
});

units('independent checks run concurrently; a crashing check is a failure, not a crash', async () => {
  const slow = () => new Promise<CheckResult>((r) => setTimeout(() => r(ok('slow')), 500));
  const started = Date.now();
  const reports = await runChecks(
    [
      fake('node', [], slow),
      fake('paths', [], slow),
      fake('logs', [], slow),
      fake('http', [], async () => {
        throw new Error('boom');
      }),
    ],
    {} as DoctorContext,
  );
  assert.ok(Date.now() - started < 1200, `one after another would take 1500 ms; took ${Date.now() - started} ms`);
  assert.is(reports[3].status, 'fail');
  assert.match(reports[3].summary, /boom/);
  assert.ok(reports[3].fix);
});

units('every declared dependency exists and none is circular', () => {
  const ids = new Set(CHECKS.map((c) => c.id));
  assert.is(ids.size, 14);
  const visit = (id: CheckId, path: CheckId[]): void => {
    assert.not.ok(path.includes(id), `cycle: ${[...path, id].join(' → ')}`);
    const c = CHECKS.find((x) => x.id === id);
    assert.ok(c, `unknown dependency ${id}`);
    for (const d of c.dependsOn) visit(d, [...path, id]);
  };
  for (const c of CHECKS) visit(c.id, []);
});

units.run();
