/**
 * doctor's vocabulary (DESIGN §6): checks are data, results are data, and the verdict is
 * a plain function of the results. Nothing here touches the world.
 */
import type { DoctorContext } from './context.js';

export const CHECK_IDS = [
  'node',
  'canonical',
  'slots',
  'worktree-clean',
  'aligned',
  'dependencies',
  'service',
  'server-port',
  'server-process',
  'framework',
  'http',
  'last-sync',
  'paths',
  'logs',
] as const;

export type CheckId = (typeof CHECK_IDS)[number];
export type Status = 'ok' | 'warn' | 'fail' | 'skip';
export type Verdict = 'ok' | 'warnings' | 'problems';

export interface CheckResult {
  status: Status;
  /** One line: what was found. */
  summary: string;
  /** More lines for a person reading a problem (log lines, the stray process, the diff). */
  detail?: string;
  /** Every warn and fail says what fixes it, as a sentence. */
  fix?: string;
  /** The one shell command behind the fix, for the report's "Next:" line. */
  command?: string;
  /** What was looked at, shown with -v. */
  evidence?: string[];
}

export interface Check {
  id: CheckId;
  title: string;
  /** A check whose dependency failed (or was skipped for that reason) is skipped. */
  dependsOn: CheckId[];
  run(ctx: DoctorContext): Promise<CheckResult>;
}

export interface CheckReport extends CheckResult {
  id: CheckId;
  title: string;
}

export interface Report {
  site: string;
  /** Shown above the checks: URL and backend. */
  heading: string;
  /** What a healthy site serves, for the "Next:" line when nothing is wrong. */
  url: string;
  /** The commit the live slot serves (its HEAD), or null when none does. */
  servedSha: string | null;
  verdict: Verdict;
  checks: CheckReport[];
}

export function getVerdict(checks: Pick<CheckResult, 'status'>[]): Verdict {
  if (checks.some((c) => c.status === 'fail')) return 'problems';
  if (checks.some((c) => c.status === 'warn')) return 'warnings';
  return 'ok';
}

export function getExitCode(verdict: Verdict): number {
  return verdict === 'problems' ? 1 : 0;
}

type Extra = Omit<CheckResult, 'status' | 'summary' | 'fix' | 'command'>;

export function ok(summary: string, extra: Extra = {}): CheckResult {
  return { status: 'ok', summary, ...extra };
}

export function skip(summary: string, extra: Extra = {}): CheckResult {
  return { status: 'skip', summary, ...extra };
}

/** A problem always carries its fix; `command` is the part a person can paste. */
export function warn(summary: string, fix: string, command: string | undefined, extra: Extra = {}): CheckResult {
  return { status: 'warn', summary, fix, command, ...extra };
}

export function fail(summary: string, fix: string, command: string | undefined, extra: Extra = {}): CheckResult {
  return { status: 'fail', summary, fix, command, ...extra };
}
