/**
 * The agent's status over run/control.sock: a read, nothing more. Its own module so that
 * doctor, which reads but drives nothing, can ask without importing the control client.
 */
import type { Site } from '../site/config.js';
import { requestUnixJson } from '../os/http.js';
import type { AgentStatus } from './protocol.js';

/** The agent's status, or null when no agent answers on the socket. */
export async function getAgentStatus(site: Site, probe = false, timeoutMs = 5000): Promise<AgentStatus | null> {
  try {
    const r = await requestUnixJson(
      site.paths.controlSocket,
      'GET',
      `/status${probe ? '?probe=1' : ''}`,
      undefined,
      timeoutMs,
    );
    return r.status === 200 ? (r.body as AgentStatus) : null;
  } catch {
    return null;
  }
}
