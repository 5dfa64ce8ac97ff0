/**
 * Runs the checks, each as soon as its dependencies are done, so independent checks run
 * concurrently. A check whose dependency failed (or was skipped for that reason) is
 * skipped and names the root cause, so one cause is reported once.
 */
import { describeError } from '../errors.js';
import type { DoctorContext } from './context.js';
import { fail, type Check, type CheckId, type CheckReport } from './types.js';

interface Outcome {
  report: CheckReport;
  /** The failed checks that caused this skip, if it is one. */
  blockedBy: CheckId[];
}

export async function runChecks(checks: Check[], ctx: DoctorContext): Promise<CheckReport[]> {
  const byId = new Map(checks.map((c) => [c.id, c]));
  const started = new Map<CheckId, Promise<Outcome>>();

  const start = (id: CheckId): Promise<Outcome> => {
    let outcome = started.get(id);
    if (outcome) return outcome;
    const check = byId.get(id);
    if (!check) throw new Error(`doctor: unknown check "${id}" in dependsOn`);
    outcome = (async (): Promise<Outcome> => {
      const deps = await Promise.all(check.dependsOn.map(start));
      const roots = new Set<CheckId>();
      deps.forEach((d, i) => {
        if (d.report.status === 'fail') roots.add(check.dependsOn[i]);
        d.blockedBy.forEach((r) => roots.add(r));
      });
      const base = { id: check.id, title: check.title };
      if (roots.size) {
        const blockedBy = [...roots];
        return {
          report: { ...base, status: 'skip', summary: `skipped: ${blockedBy.join(' and ')} failed` },
          blockedBy,
        };
      }
      try {
        return { report: { ...base, ...(await check.run(ctx)) }, blockedBy: [] };
      } catch (err) {
        // A check that crashes is a finding too, never a crashed doctor.
        const result = fail(
          `doctor could not run this check: ${describeError(err)}`,
          'Run doctor again; if it persists, run it with LOCALHOST_OPS_DEBUG=1 and report the output.',
          undefined,
          {
            detail: process.env.LOCALHOST_OPS_DEBUG ? (err as Error)?.stack : undefined,
          },
        );
        return { report: { ...base, ...result }, blockedBy: [] };
      }
    })();
    started.set(id, outcome);
    return outcome;
  };

  const outcomes = await Promise.all(checks.map((c) => start(c.id)));
  return outcomes.map((o) => o.report);
}
