/**
 * The control API's client: how the sync and the small commands talk to a site's server
 * agent. Every call names the socket from the site's paths, so no state file is read first.
 */
import type { Site } from '../site/config.js';
import type { Slot } from '../site/paths.js';
import { requestUnixJson } from '../os/http.js';
import { OpsError } from '../errors.js';
import type { GateResult } from './protocol.js';

export { getAgentStatus } from './status-client.js';

async function post<T>(site: Site, path: string, body: unknown, timeoutMs: number): Promise<T> {
  try {
    const r = await requestUnixJson(site.paths.controlSocket, 'POST', path, body, timeoutMs);
    if (r.status !== 200) throw new Error((r.body as { error?: string })?.error ?? `HTTP ${r.status}`);
    return r.body as T;
  } catch (err) {
    throw new OpsError(
      `The server agent did not answer ${path} (${(err as Error).message}).`,
      `Run localhost-ops doctor --name ${site.name}.`,
    );
  }
}

/** The gate runs in the agent; its answer comes once the server passed or failed. */
export function startSlot(site: Site, slot: Slot, sha: string): Promise<GateResult> {
  return post(site, `/slots/${slot}/start`, { sha }, site.config.healthTimeout * 1000 + 30_000);
}

export function switchToSlot(site: Site, slot: Slot): Promise<{ ok: boolean; reason: string }> {
  return post(site, '/switch', { slot }, 15_000);
}

/** Waits for the slot's server to drain and stop (at most ~15 s). */
export function stopSlot(site: Site, slot: Slot): Promise<{ ok: boolean; reason: string }> {
  return post(site, `/slots/${slot}/stop`, {}, 30_000);
}
