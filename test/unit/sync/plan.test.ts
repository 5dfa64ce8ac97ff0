/** The sync's decisions, as tables: repair, update, failure and recovery. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  planRepair,
  planUpdate,
  planRecovery,
  planFailure,
  isKnownBad,
  getRecreateAt,
  type UpdateFacts,
} from '../../../src/sync/plan.js';

const A = 'a'.repeat(40);
const B = 'b'.repeat(40);

test('planRepair: what brings the mirror back', () => {
  const rows: [Parameters<typeof planRepair>[0], string[]][] = [
    [{ present: false, staleIndexLock: false, onSyncBranch: false }, ['recreate']],
    [{ present: false, staleIndexLock: true, onSyncBranch: true }, ['recreate']],
    [{ present: true, staleIndexLock: false, onSyncBranch: true }, []],
    [{ present: true, staleIndexLock: true, onSyncBranch: true }, ['remove-index-lock']],
    [{ present: true, staleIndexLock: false, onSyncBranch: false }, ['switch-branch']],
    [{ present: true, staleIndexLock: true, onSyncBranch: false }, ['remove-index-lock', 'switch-branch']],
  ];
  for (const [facts, steps] of rows) assert.equal(planRepair(facts), steps, JSON.stringify(facts));
});

test('isKnownBad: a failed main waits for a new commit or --force', () => {
  const rows: [string, string, boolean, boolean][] = [
    [A, A, false, true],
    [A, A, true, false],
    [A, B, false, false],
    [A, '', false, false],
    ['', '', false, false],
  ];
  for (const [target, failed, force, want] of rows)
    assert.is(isKnownBad(target, failed, force), want, `${target.slice(0, 1)} ${failed.slice(0, 1)} ${force}`);
});

test('getRecreateAt: last good commit, else the target', () => {
  assert.is(getRecreateAt(A, B), A);
  assert.is(getRecreateAt('', B), B);
});

test('planUpdate: noop only when aligned, clean, current and healthy', () => {
  const base: UpdateFacts = { head: A, target: A, clean: true, depsCurrent: true, serverHealthy: true };
  const rows: [Partial<UpdateFacts>, string, boolean | null, RegExp | null][] = [
    [{}, 'noop', null, null],
    [{ head: B }, 'update', true, /main moved to aaaaaaa/],
    [{ head: null }, 'update', true, /first deploy/],
    [{ clean: false }, 'update', true, /local changes/],
    [{ depsCurrent: false }, 'update', false, /dependencies were not current/],
    [{ serverHealthy: false }, 'update', false, /server was not healthy/],
    [{ head: B, depsCurrent: null, serverHealthy: null }, 'update', true, /^main moved to aaaaaaa$/],
  ];
  for (const [change, kind, align, reason] of rows) {
    const plan = planUpdate({ ...base, ...change });
    assert.is(plan.kind, kind, JSON.stringify(change));
    if (plan.kind === 'update') {
      assert.is(plan.align, align, JSON.stringify(change));
      assert.match(plan.reason, reason as RegExp);
    }
  }
});

test("planFailure: only the commit's own failure holds it back; a foreign program stops the rollback", () => {
  const rows: [Parameters<typeof planFailure>[0], boolean, string][] = [
    [{ target: B, lastGood: A, blame: 'commit', foreign: false }, true, 'rollback'],
    [{ target: B, lastGood: '', blame: 'commit', foreign: false }, true, 'give-up'],
    // A heal of the good commit: it stays good.
    [{ target: A, lastGood: A, blame: 'commit', foreign: false }, false, 'give-up'],
    // git or the service manager failed: serve the last good commit, retry main later.
    [{ target: B, lastGood: A, blame: 'environment', foreign: false }, false, 'rollback'],
    // Another program holds the port: a rollback would meet it too.
    [{ target: B, lastGood: A, blame: 'environment', foreign: true }, false, 'give-up'],
  ];
  for (const [facts, markFailed, recovery] of rows) {
    const plan = planFailure(facts);
    assert.is(plan.markFailed, markFailed, JSON.stringify(facts));
    assert.is(plan.recovery.kind, recovery, JSON.stringify(facts));
  }
});

test('planRecovery: roll back to a different good commit, else give up', () => {
  assert.equal(planRecovery(A, B), { kind: 'rollback', to: A });
  assert.equal(planRecovery('', B), { kind: 'give-up' });
  assert.equal(planRecovery(B, B), { kind: 'give-up' });
});

test.run();
