/**
 * The sync's decisions, as plain functions over data (DESIGN §3). The executor gathers the
 * facts, asks these, and acts; tests drive them with tables.
 */
import { short } from '../site/last-sync.js';
import type { SyncStatus } from '../site/last-sync.js';
import { getOtherSlot, type Slot } from '../site/paths.js';
import type { Blame } from '../run/protocol.js';

export interface SlotFacts {
  /** The folder exists and is registered as a worktree of the canonical repo. */
  present: boolean;
  /** A leftover index.lock that no running git holds. */
  staleIndexLock: boolean;
  /** Someone checked out a branch in it: the canonical repo's branch is then held by our slot. */
  onBranch: boolean;
}

export type RepairStep =
  { kind: 'create'; slot: Slot } | { kind: 'remove-index-lock'; slot: Slot } | { kind: 'detach'; slot: Slot };

/** Step 4: what brings both slots back to sane worktrees before anything else. */
export function planRepair(slots: Record<Slot, SlotFacts>): RepairStep[] {
  const steps: RepairStep[] = [];
  for (const slot of ['a', 'b'] as const) {
    if (!slots[slot].present) {
      steps.push({ kind: 'create', slot });
      continue;
    }
    if (slots[slot].staleIndexLock) steps.push({ kind: 'remove-index-lock', slot });
    if (slots[slot].onBranch) steps.push({ kind: 'detach', slot });
  }
  return steps;
}

/** Where a created slot starts: the last good commit, or the target on a first install. */
export function getCreateAt(lastGood: string, target: string): string {
  return lastGood || target;
}

/** Step 7's slot: the one not serving; `a` when nothing serves yet. */
export function pickStandby(live: Slot | null): Slot {
  return live ? getOtherSlot(live) : 'a';
}

/** Step 3: a main that already failed is held back until it moves or --force is given. */
export function isKnownBad(target: string, lastFailed: string, force: boolean): boolean {
  return !force && target !== '' && target === lastFailed;
}

export interface UpdateFacts {
  live: Slot | null;
  /** The live slot's HEAD. */
  liveHead: string | null;
  target: string;
  /** No local edits or stray files in the live slot. */
  clean: boolean;
  /** null: not looked at, because the live slot is not on the target anyway. */
  depsCurrent: boolean | null;
  /** The agent's live server passed its gate, still runs, and answers. */
  serverHealthy: boolean;
  /** The commit the agent started the live server from. */
  serverSha: string | null;
}

export type UpdatePlan =
  { kind: 'noop' } | { kind: 'restart-live'; reason: string } | { kind: 'prepare'; slot: Slot; reason: string };

/**
 * Step 6: nothing to do; the live server restarted where it is (it sits on the target with
 * current dependencies but is not healthy, or was started from another commit); or a new
 * main prepared in the standby slot.
 */
export function planUpdate(f: UpdateFacts): UpdatePlan {
  const aligned = f.live !== null && f.liveHead === f.target && f.clean && f.depsCurrent === true;
  if (aligned && f.serverHealthy && f.serverSha === f.target) return { kind: 'noop' };
  if (aligned) {
    const reason = !f.serverHealthy
      ? 'the live server was not healthy'
      : `the live server was started from ${short(f.serverSha)}`;
    return { kind: 'restart-live', reason };
  }
  const reasons: string[] = [];
  if (f.live === null) reasons.push(`first serve of ${short(f.target)}`);
  else if (f.liveHead !== f.target) reasons.push(`main moved to ${short(f.target)}`);
  else if (!f.clean) reasons.push('the live slot had local changes');
  else reasons.push("the live slot's dependencies were not current");
  return { kind: 'prepare', slot: pickStandby(f.live), reason: reasons.join('; ') };
}

export interface OutcomeFacts {
  target: string;
  /** What the live slot serves after this sync ('' when nothing does). */
  served: string;
  lastGood: string;
  lastFailed: string;
  result: { ok: true; how: 'noop' | 'updated'; reason: string } | { ok: false; blame: Blame; reason: string };
  /** The commands the messages name, whole (pure: the caller builds them). */
  fixes: { syncForce: string; installCommand: string };
}

export interface Outcome {
  status: SyncStatus;
  sha: string;
  goodSha: string;
  failedSha: string;
  message: string;
}

/**
 * Steps 11–12: the record a sync leaves. Only the commit's own failure holds it back
 * (rolled-back); a wrong command or a machine problem is an `error` with its own fix, and
 * a commit that already passed the gate is never marked failed.
 */
export function planOutcome(f: OutcomeFacts): Outcome {
  const t = short(f.target);
  if (f.result.ok) {
    const message =
      f.result.how === 'noop' ? `main ${t} is served; nothing to do.` : `Serving main ${t} (${f.result.reason}).`;
    return { status: f.result.how, sha: f.target, goodSha: f.target, failedSha: '', message };
  }
  const { blame, reason } = f.result;
  const still = f.served ? ` Still serving ${short(f.served)}.` : '';
  const base = { sha: f.served, goodSha: f.lastGood };
  if (blame === 'commit' && f.target !== f.lastGood) {
    if (!f.served) {
      return {
        ...base,
        status: 'error',
        failedSha: f.target,
        message: `main ${t} failed (${reason}) and no commit has served yet; the next commit on main will be tried.`,
      };
    }
    return {
      ...base,
      status: 'rolled-back',
      failedSha: f.target,
      message: `main ${t} failed (${reason}); held back.${still} Push a fix to main, or run ${f.fixes.syncForce} once the cause is fixed.`,
    };
  }
  if (f.target === f.lastGood) {
    // The commit already passed the gate: whatever stops it now is not the commit's fault.
    return {
      ...base,
      status: 'error',
      failedSha: f.lastFailed,
      message: `The server on main ${t} did not come back (${reason}).${still} The next sync tries again.`,
    };
  }
  if (blame === 'command') {
    return {
      ...base,
      status: 'error',
      failedSha: f.lastFailed,
      message: `main ${t} could not start: ${reason}.${still} Fix the command with ${f.fixes.installCommand}.`,
    };
  }
  return {
    ...base,
    status: 'error',
    failedSha: f.lastFailed,
    message: `Could not serve main ${t} (${reason}).${still} The next sync tries again.`,
  };
}

export interface HoldFacts {
  target: string;
  served: string;
  lastGood: string;
  /** The live server is healthy, or was healed just now. */
  healthy: boolean;
  healed: boolean;
  syncForce: string;
}

/** Step 3's outcome: main is known bad; the live slot keeps the last good commit. */
export function planHold(f: HoldFacts): Outcome {
  const retry = `Push a fix to main, or run ${f.syncForce} to retry it.`;
  const t = short(f.target);
  if (!f.served) {
    return {
      status: 'error',
      sha: '',
      goodSha: f.lastGood,
      failedSha: f.target,
      message: `main ${t} failed before and no commit has served yet. ${retry}`,
    };
  }
  const base = { sha: f.served, goodSha: f.lastGood, failedSha: f.target };
  if (!f.healthy) {
    return {
      ...base,
      status: 'error',
      message: `main ${t} failed before, and the server on ${short(f.served)} did not come back.`,
    };
  }
  const what = f.healed ? `restarted the server on ${short(f.served)}` : `still serving ${short(f.served)}`;
  return { ...base, status: 'rolled-back', message: `main ${t} failed before; ${what}. ${retry}` };
}

/**
 * The sync agent's wait before its next sync (DESIGN §3.2): the interval; after
 * consecutive errors twice as long each time, at most 10 × interval. A trigger (main moved,
 * SIGHUP) does not wait at all, and resets the doubling with it.
 */
export function planNextWait(intervalS: number, consecutiveErrors: number): number {
  if (consecutiveErrors <= 0) return intervalS * 1000;
  return Math.min(intervalS * 2 ** consecutiveErrors, intervalS * 10) * 1000;
}
