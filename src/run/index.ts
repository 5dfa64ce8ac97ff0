/**
 * `run`: the server agent in the foreground (DESIGN §9). It holds host:port for as long as
 * the site is installed, proxies to the live slot, and takes the control API's requests.
 * This is what the server job executes.
 */
import { tildify } from '../site/paths.js';
import { readSiteConfig, resolveSite, verifyInstalled } from '../site/store.js';
import { readSyncRecord } from '../site/last-sync.js';
import { ensureDir } from '../os/fs.js';
import { sleep } from '../os/exec.js';
import { closeServer, listenHttp, listenUnixHttp, type Server } from '../os/http-server.js';
import { formatUrl } from '../os/http.js';
import { OpsError } from '../errors.js';
import { ServerAgent } from './agent.js';
import { createFrontDoor } from './front-door.js';
import { createControlHandler } from './control.js';
import { explainUnavailable } from './explain.js';

/** A previous agent (or the first release's server) may take a moment to let go of the port. */
const PORT_WAIT_MS = 10_000;

async function holdPort(host: string, port: number, open: () => Promise<Server>): Promise<Server> {
  const deadline = Date.now() + PORT_WAIT_MS;
  for (;;) {
    try {
      return await open();
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'EADDRINUSE' || Date.now() > deadline) {
        throw new OpsError(
          `The server agent cannot hold ${formatUrl(host, port, '')} (${code ?? (err as Error).message}).`,
          code === 'EADDRINUSE'
            ? `Stop the program on port ${port} (lsof -i :${port}), or reinstall with another --port.`
            : 'Reinstall with a --host this machine has.',
        );
      }
      await sleep(250);
    }
  }
}

export async function runCommand(argv: { name?: string }): Promise<number> {
  const site = verifyInstalled(resolveSite(argv.name));
  const { config, paths } = site;
  ensureDir(paths.runDir);
  ensureDir(paths.logs);
  // The command and the Node pin are read again for each slot start, so install can change
  // them with a swap; host and port are bound once (install restarts the agent for those).
  let current = site;
  const getSlotSite = () => {
    try {
      current = {
        ...current,
        config: { ...readSiteConfig(site.name), host: site.config.host, port: site.config.port },
      };
    } catch {
      // a config being rewritten, or broken by hand: keep the last good one
    }
    return current;
  };
  const agent = new ServerAgent(() => site, paths.controlSocket, getSlotSite);
  agent.init();
  const door = createFrontDoor(agent, () => {
    const live = agent.live ? agent.slots[agent.live] : null;
    const failing = live ?? [agent.slots.a, agent.slots.b].find((s) => s.tail.length) ?? null;
    return explainUnavailable(
      site.name,
      agent.snapshot(null),
      readSyncRecord(paths.lastSync),
      failing?.tail.slice(-12) ?? [],
      agent.crashRestartPending,
    );
  });
  const front = await holdPort(config.host, config.port, () =>
    listenHttp(config.host, config.port, door.onRequest, door.onUpgrade),
  );
  const control = await listenUnixHttp(paths.controlSocket, createControlHandler(agent));
  const url = formatUrl(config.host, config.port, '/');
  if (process.stdout.isTTY) {
    // In a terminal: the URL, then the server log as it is written (the agent writes every line of it).
    process.stdout.write(`localhost-ops: serving ${site.name} at ${url} (server log: ${tildify(paths.serverLog)})\n`);
    agent.echo = (line) => process.stdout.write(`${line}\n`);
  }
  agent.log(`[agent] pid ${process.pid} holds ${url}`);
  await agent.boot();

  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: NodeJS.Signals) => {
      if (stopping) return;
      stopping = true;
      agent.log(`[agent] ${signal}: stopping the dev servers`);
      void (async () => {
        await agent.shutdown();
        await Promise.all([closeServer(front), closeServer(control)]);
        agent.log('[agent] stopped');
        resolve(0);
      })();
    };
    for (const signal of ['SIGTERM', 'SIGINT'] as const) process.on(signal, () => stop(signal));
    // A terminal that closes should not leave the port held; launchd and systemd never send it.
    process.on('SIGHUP', () => stop('SIGHUP'));
  });
}
