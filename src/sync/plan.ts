/**
 * The sync's decisions, as plain functions over data (DESIGN §3). The executor gathers
 * the facts, asks these, and acts; tests drive them with tables.
 */
import { short } from '../site/last-sync.js';

export interface MirrorFacts {
  /** The worktree folder exists and is registered as a worktree of the canonical repo. */
  present: boolean;
  /** A leftover index.lock that no running git holds. */
  staleIndexLock: boolean;
  onSyncBranch: boolean;
}

export type RepairStep = 'recreate' | 'remove-index-lock' | 'switch-branch';

/** Step 4: what brings the mirror back to a sane worktree before anything else. */
export function planRepair(m: MirrorFacts): RepairStep[] {
  if (!m.present) return ['recreate'];
  const steps: RepairStep[] = [];
  if (m.staleIndexLock) steps.push('remove-index-lock');
  if (!m.onSyncBranch) steps.push('switch-branch');
  return steps;
}

/** Where a recreated worktree starts: the last good commit, or the target on a first install. */
export function getRecreateAt(lastGood: string, target: string): string {
  return lastGood || target;
}

/** Step 3: a main that already failed is held back until it moves or --force is given. */
export function isKnownBad(target: string, lastFailed: string, force: boolean): boolean {
  return !force && target !== '' && target === lastFailed;
}

export interface UpdateFacts {
  head: string | null;
  target: string;
  clean: boolean;
  /** null: not looked at, because the mirror has to move anyway. */
  depsCurrent: boolean | null;
  serverHealthy: boolean | null;
}

export type UpdatePlan = { kind: 'noop' } | { kind: 'update'; align: boolean; reason: string };

/** Step 6: nothing to do, or what the update must include. */
export function planUpdate(f: UpdateFacts): UpdatePlan {
  const aligned = f.head === f.target && f.clean;
  if (aligned && f.depsCurrent === true && f.serverHealthy === true) return { kind: 'noop' };
  const reasons: string[] = [];
  if (f.head === null) reasons.push(`first deploy of ${short(f.target)}`);
  else if (f.head !== f.target) reasons.push(`main moved to ${short(f.target)}`);
  else if (!f.clean) reasons.push('the mirror had local changes');
  if (f.depsCurrent === false) reasons.push('dependencies were not current');
  if (f.serverHealthy === false) reasons.push('the server was not healthy');
  if (reasons.length === 0) reasons.push('the mirror was not verified');
  return { kind: 'update', align: !aligned, reason: reasons.join('; ') };
}

export type RecoveryPlan = { kind: 'rollback'; to: string } | { kind: 'give-up' };

/** Step 11: after a failed update, go back to the last good commit, if there is one to go to. */
export function planRecovery(lastGood: string, target: string): RecoveryPlan {
  if (lastGood && lastGood !== target) return { kind: 'rollback', to: lastGood };
  return { kind: 'give-up' };
}

export interface FailureFacts {
  target: string;
  lastGood: string;
  /** 'environment': git, the service manager or another program failed, not the commit. */
  blame: 'commit' | 'environment';
  /** Another program holds the port. */
  foreign: boolean;
}

export interface FailurePlan {
  /** Hold this main back (LAST_FAILED_SHA) until it moves or --force. */
  markFailed: boolean;
  recovery: RecoveryPlan;
}

/**
 * What a failed update leads to. Only the commit's own failure holds it back: a commit
 * that already passed the gate stays good, and a machine problem is retried. A foreign
 * program on the port makes a rollback pointless: it would meet the same program.
 */
export function planFailure(f: FailureFacts): FailurePlan {
  return {
    markFailed: f.blame === 'commit' && f.target !== f.lastGood,
    recovery: f.foreign ? { kind: 'give-up' } : planRecovery(f.lastGood, f.target),
  };
}
