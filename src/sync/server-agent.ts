/**
 * The sync talks to the server agent only through its control API. When no agent answers
 * (a process-backend job that died, a first-release server job after an upgrade), the
 * server job is restarted through the backend and waited for.
 */
import type { Site } from '../site/config.js';
import { sleep } from '../os/exec.js';
import { pollUntil } from '../os/poll.js';
import { getListeners } from '../os/listeners.js';
import { formatUrl } from '../os/http.js';
import { syncCommand } from '../site/fix-commands.js';
import { describeListener, isSiteProcess } from '../run/health.js';
import { OpsError } from '../errors.js';
import { getJobSpecs, loadBackend, type JobSpec } from '../service/index.js';
import { getAgentStatus } from '../run/control-client.js';
import type { AgentStatus } from '../run/protocol.js';

const AGENT_START_MS = 20_000;
/** A running agent answers within this long of its start (it binds two sockets, then boots). */
const AGENT_BIND_MS = 10_000;

/** The agent's status with a fresh probe of the live server; a live server still starting is waited for. */
export async function getSettledStatus(site: Site, log: (step: string, message: string) => void): Promise<AgentStatus> {
  let status = await getAgentStatus(site, true);
  if (!status) {
    // A server job that runs may still be binding its sockets (install just started it).
    const backend = await loadBackend(site.config.service);
    if (await backend.isRunning(site, 'server')) {
      await pollUntil(async () => (status = await getAgentStatus(site, true)) !== null, AGENT_BIND_MS, 100);
    }
  }
  if (!status) {
    // Another program on the port would keep any new agent out: name it rather than restart in vain.
    const stranger = (await getListeners(site.config.port)).find(
      (l) => l.cwd !== null && !isSiteProcess(l, site.paths.dir),
    );
    if (stranger) {
      throw new OpsError(
        `${formatUrl(site.config.host, site.config.port, '/')} is served by ${describeListener(stranger)}, not by the server agent.`,
        `Stop that program, then run ${syncCommand(site.config)}.`,
      );
    }
    log('agent', 'the server agent does not answer; restarting the server job');
    const backend = await loadBackend(site.config.service);
    const spec = getJobSpecs(site).find((s) => s.kind === 'server') as JobSpec;
    await backend.restart(site, spec);
    const deadline = Date.now() + AGENT_START_MS;
    while (!status && Date.now() < deadline) {
      await sleep(200);
      status = await getAgentStatus(site, true);
    }
    if (!status) {
      throw new OpsError(
        `The server agent did not answer within ${AGENT_START_MS / 1000} s of a restart of the server job; see logs/server.log and the ${site.config.service}-server.log beside it.`,
        `Run localhost-ops doctor --name ${site.name}.`,
      );
    }
  }
  // A live server being (re)started by the agent gets its gate's time before anyone judges it.
  const deadline = Date.now() + site.config.healthTimeout * 1000 + 5000;
  while (status.live && status.slots[status.live].phase === 'starting' && Date.now() < deadline) {
    await sleep(250);
    status = (await getAgentStatus(site, true)) ?? status;
  }
  return status;
}
