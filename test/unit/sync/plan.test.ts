/** The sync's decisions, as tables: repair, standby, update, outcome, hold and the agent's wait. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  planRepair,
  planUpdate,
  planOutcome,
  planHold,
  planNextWait,
  pickStandby,
  isKnownBad,
  getCreateAt,
  type UpdateFacts,
  type OutcomeFacts,
} from '../../../src/sync/plan.js';

const A = 'a'.repeat(40);
const B = 'b'.repeat(40);
const C = 'c'.repeat(40);
const fixes = {
  syncForce: 'localhost-ops sync --force --name s',
  installCommand: 'localhost-ops install --repo ~/r --name s',
};

test('planRepair: missing slots are created, stale index.locks removed', () => {
  const ok = { present: true, staleIndexLock: false };
  const rows: [Parameters<typeof planRepair>[0], string[]][] = [
    [{ a: ok, b: ok }, []],
    [{ a: { present: false, staleIndexLock: false }, b: ok }, ['create a']],
    [
      { a: { present: false, staleIndexLock: true }, b: { present: false, staleIndexLock: false } },
      ['create a', 'create b'],
    ],
    [{ a: ok, b: { present: true, staleIndexLock: true } }, ['remove-index-lock b']],
  ];
  for (const [facts, steps] of rows) {
    assert.equal(
      planRepair(facts).map((s) => `${s.kind} ${s.slot}`),
      steps,
      JSON.stringify(facts),
    );
  }
});

test('getCreateAt and pickStandby', () => {
  assert.is(getCreateAt(A, B), A);
  assert.is(getCreateAt('', B), B);
  assert.is(pickStandby(null), 'a');
  assert.is(pickStandby('a'), 'b');
  assert.is(pickStandby('b'), 'a');
});

test('isKnownBad: a failed main waits for a new commit or --force', () => {
  const rows: [string, string, boolean, boolean][] = [
    [A, A, false, true],
    [A, A, true, false],
    [B, A, false, false],
    [A, '', false, false],
    ['', '', false, false],
  ];
  for (const [target, failed, force, want] of rows) assert.is(isKnownBad(target, failed, force), want);
});

test('planUpdate: noop, a restart in place, or main prepared in the standby slot', () => {
  const base: UpdateFacts = {
    live: 'a',
    liveHead: A,
    target: A,
    clean: true,
    depsCurrent: true,
    serverHealthy: true,
    serverSha: A,
  };
  const rows: [Partial<UpdateFacts>, string][] = [
    [{}, 'noop'],
    [{ serverHealthy: false }, 'restart-live'],
    // A server started from another commit (a sync killed between checkout and switch) is no noop.
    [{ serverSha: B }, 'restart-live'],
    [{ target: B, depsCurrent: null }, 'prepare b'],
    [{ clean: false, depsCurrent: null }, 'prepare b'],
    [{ depsCurrent: false }, 'prepare b'],
    [{ live: 'b', target: B, depsCurrent: null }, 'prepare a'],
    [{ live: null, liveHead: null, depsCurrent: null, serverHealthy: false, serverSha: null }, 'prepare a'],
  ];
  for (const [over, want] of rows) {
    const plan = planUpdate({ ...base, ...over });
    assert.is(plan.kind === 'prepare' ? `prepare ${plan.slot}` : plan.kind, want, JSON.stringify(over));
  }
  const first = planUpdate({ ...base, live: null, liveHead: null, depsCurrent: null });
  assert.ok(first.kind === 'prepare' && first.reason.includes('first serve'));
});

test('planOutcome: only the commit itself is held back; a command or the machine is an error', () => {
  const base: OutcomeFacts = {
    target: B,
    served: A,
    lastGood: A,
    lastFailed: '',
    result: { ok: true, how: 'updated', reason: 'main moved' },
    fixes,
  };
  const rows: [Partial<OutcomeFacts>, string, string, string, string][] = [
    // status, sha, goodSha, failedSha
    [{ served: B }, 'updated', B, B, ''],
    [{ target: A, served: A, result: { ok: true, how: 'noop', reason: '' } }, 'noop', A, A, ''],
    [{ result: { ok: false, blame: 'commit', reason: 'health gate' } }, 'rolled-back', A, A, B],
    [{ served: '', lastGood: '', result: { ok: false, blame: 'commit', reason: 'crash' } }, 'error', '', '', B],
    [{ result: { ok: false, blame: 'command', reason: 'listens elsewhere' } }, 'error', A, A, ''],
    [{ result: { ok: false, blame: 'environment', reason: 'registry' }, lastFailed: C }, 'error', A, A, C],
    // A commit that already passed the gate is never marked failed.
    [{ target: A, result: { ok: false, blame: 'commit', reason: 'crash' } }, 'error', A, A, ''],
  ];
  for (const [over, status, sha, good, failed] of rows) {
    const o = planOutcome({ ...base, ...over });
    assert.equal([o.status, o.sha, o.goodSha, o.failedSha], [status, sha, good, failed], JSON.stringify(over));
  }
  const held = planOutcome({ ...base, result: { ok: false, blame: 'commit', reason: 'crash' } });
  assert.match(held.message, fixes.syncForce);
  const command = planOutcome({ ...base, result: { ok: false, blame: 'command', reason: 'x' } });
  assert.match(command.message, fixes.installCommand);
  assert.not.match(command.message, /--force/);
});

test('planHold: the live slot keeps the last good commit', () => {
  const base = { target: B, served: A, lastGood: A, healthy: true, healed: false, syncForce: fixes.syncForce };
  const rows: [Partial<typeof base>, string, RegExp][] = [
    [{}, 'rolled-back', /still serving aaaaaaa/],
    [{ healed: true }, 'rolled-back', /restarted the server on aaaaaaa/],
    [{ healthy: false }, 'error', /did not come back/],
    [{ served: '', lastGood: '' }, 'error', /no commit has served yet/],
  ];
  for (const [over, status, message] of rows) {
    const o = planHold({ ...base, ...over });
    assert.is(o.status, status);
    assert.is(o.failedSha, B);
    assert.match(o.message, message);
  }
});

test('planNextWait: the interval, doubling after errors up to 10 x interval', () => {
  const rows: [number, number, number][] = [
    [60, 0, 60_000],
    [60, 1, 120_000],
    [60, 2, 240_000],
    [60, 3, 480_000],
    [60, 4, 600_000],
    [60, 12, 600_000],
    [10, 5, 100_000],
  ];
  for (const [interval, errors, ms] of rows)
    assert.is(planNextWait(interval, errors), ms, `${interval} s, ${errors} errors`);
});

test.run();
