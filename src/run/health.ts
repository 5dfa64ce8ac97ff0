/**
 * Is the mirror's server healthy? It answers below 500 on the literal host:port, and the
 * process listening there runs from the mirror. A dev server that found the port busy and
 * moved elsewhere leaves a foreign listener behind: that is a failure, not a pass.
 */
import type { SiteConfig } from '../site/config.js';
import { probeHttp, isHealthyStatus, formatUrl } from '../os/http.js';
import { getListeners, isInside, type Listener } from '../os/listeners.js';
import { sleep } from '../os/exec.js';

export interface HealthResult {
  healthy: boolean;
  status: number | null;
  reason: string;
  listener: Listener | null;
  /** The port is held by a process that does not run from the mirror. */
  foreign: boolean;
}

const DELETED = ' (deleted)';

/**
 * The listener runs from the mirror. Linux shows the cwd of a process whose folder was
 * removed with " (deleted)" after it: such a server serves files that are gone, so it is
 * not the mirror's server even though the path matches.
 */
export function isFromMirror(l: Listener, worktree: string): boolean {
  return l.cwd !== null && !l.cwd.endsWith(DELETED) && isInside(l.cwd, worktree);
}

/** A listener left from a mirror folder that was deleted (and maybe made again since). */
export function isFromDeletedMirror(l: Listener, worktree: string): boolean {
  return l.cwd !== null && l.cwd.endsWith(DELETED) && isInside(l.cwd.slice(0, -DELETED.length), worktree);
}

/** This site's own server, current or left over from a deleted mirror folder. */
export function isSiteServer(l: Listener, worktree: string): boolean {
  return isFromMirror(l, worktree) || isFromDeletedMirror(l, worktree);
}

export function describeListener(l: Listener): string {
  return `pid ${l.pid ?? '?'}${l.command ? ` (${l.command.slice(0, 80)})` : ''}${l.cwd ? ` in ${l.cwd}` : ''}`;
}

/** Pure: the verdict from a probe and the listeners found on the port. */
export function judgeHealth(
  status: number | null,
  probeError: string | null,
  listeners: Listener[],
  worktree: string,
  url: string,
): HealthResult {
  const ours = listeners.find((l) => isFromMirror(l, worktree)) ?? null;
  const known = listeners.filter((l) => l.cwd !== null);
  if (!ours && known.length > 0) {
    const holder = known[0];
    // A server left from a deleted mirror folder is ours to restart, not another program.
    const foreign = !isFromDeletedMirror(holder, worktree);
    return {
      healthy: false,
      status,
      listener: holder,
      foreign,
      reason: `${url} is served by ${describeListener(holder)}, not by the mirror's server`,
    };
  }
  if (!isHealthyStatus(status)) {
    return {
      healthy: false,
      status,
      listener: ours,
      foreign: false,
      reason: status === null ? `${url} did not answer (${probeError})` : `${url} answered ${status}`,
    };
  }
  if (!ours) {
    // The system would not say who listens (lsof missing or failing, another user's
    // process): trust the answer rather than restart a working server every minute.
    return {
      healthy: true,
      status,
      listener: null,
      foreign: false,
      reason: `${url} answered ${status} (the listening process could not be identified)`,
    };
  }
  return { healthy: true, status, listener: ours, foreign: false, reason: `${url} answered ${status}` };
}

export async function getHealth(config: SiteConfig, worktree: string, timeoutMs = 5000): Promise<HealthResult> {
  const url = formatUrl(config.host, config.port, config.healthPath);
  const probe = await probeHttp(config.host, config.port, config.healthPath, timeoutMs);
  // A refused connection has no listener to look for.
  const listeners = probe.status === null && probe.error === 'ECONNREFUSED' ? [] : await getListeners(config.port);
  return judgeHealth(probe.status, probe.error, listeners, worktree, url);
}

/**
 * The health gate (DESIGN §3 step 10): poll until healthy, the deadline passes, or the
 * server exits (which fails the gate at once).
 */
export async function waitForHealthy(
  config: SiteConfig,
  worktree: string,
  isServerRunning: () => Promise<boolean>,
  timeoutMs = config.healthTimeout * 1000,
): Promise<HealthResult> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const left = deadline - Date.now();
    const last = await getHealth(config, worktree, Math.max(200, Math.min(5000, left)));
    if (last.healthy) return last;
    if (!(await isServerRunning())) {
      return { ...last, reason: `the server exited before it answered (${last.reason}); see logs/server.log` };
    }
    if (Date.now() >= deadline) {
      return { ...last, reason: `${last.reason} within ${Math.round(timeoutMs / 1000)} s` };
    }
    await sleep(200);
  }
}
