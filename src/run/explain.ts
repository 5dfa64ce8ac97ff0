/**
 * Why nothing good serves right now, from the agent's state and last-sync.env: the words
 * of the 503 page. Pure given its inputs.
 */
import type { SyncRecord } from '../site/last-sync.js';
import { short } from '../site/last-sync.js';
import type { AgentStatus } from './protocol.js';
import type { Unavailable } from './status-page.js';

export function explainUnavailable(
  site: string,
  status: AgentStatus,
  record: SyncRecord | null,
  tail: string[],
  restartPending: boolean,
): Unavailable {
  const doctor = `localhost-ops doctor --name ${site}`;
  const logs = `localhost-ops logs --name ${site} --server`;
  const live = status.live ? status.slots[status.live] : null;
  if (live) {
    const sha = live.sha ? short(live.sha) : null;
    if (live.phase === 'starting') {
      return {
        site,
        headline: `The dev server of ${sha ?? 'main'} is starting${live.restarts ? ` (restart ${live.restarts})` : ''}.`,
        commit: sha,
        tail,
        fixes: [doctor],
      };
    }
    const why = live.lastError ?? 'it is not running';
    return {
      site,
      headline: `The dev server of ${sha ?? 'the live commit'} is down: ${why}.${restartPending ? ` It is restarted with a growing pause (restart ${live.restarts}).` : ''}`,
      commit: sha,
      tail,
      fixes: [doctor, logs],
    };
  }
  // No slot is live: a first install still preparing, or no good commit yet.
  if (record && (record.status === 'error' || record.status === 'rolled-back') && !record.goodSha) {
    return {
      site,
      headline: `No commit of main has served yet: ${record.message}`,
      commit: record.targetSha ? short(record.targetSha) : null,
      tail,
      fixes: ['Push a fix to main; the next commit is tried by itself.', doctor],
    };
  }
  return {
    site,
    headline: 'Preparing main for its first serve (checkout, npm ci, start).',
    commit: record?.targetSha ? short(record.targetSha) : null,
    tail,
    fixes: [doctor],
  };
}
