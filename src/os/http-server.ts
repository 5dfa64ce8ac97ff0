/**
 * The sockets the server agent listens on: the front door (host:port) and the control API
 * (a unix socket, mode 0600). The handlers live in src/run/; this module only opens them.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { chmodSync, unlinkSync } from 'node:fs';

export type { IncomingMessage, Server, ServerResponse };
export type RequestHandler = (req: IncomingMessage, res: ServerResponse) => void;
export type UpgradeHandler = (req: IncomingMessage, socket: Duplex, head: Buffer) => void;

function listen(server: Server, target: { host: string; port: number } | { path: string }): Promise<Server> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ ...target, exclusive: true }, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}

/** The front door. Rejects with the listen error (EADDRINUSE, EACCES) for the caller to name. */
export function listenHttp(
  host: string,
  port: number,
  onRequest: RequestHandler,
  onUpgrade: UpgradeHandler,
): Promise<Server> {
  const server = createServer(onRequest);
  server.on('upgrade', onUpgrade);
  // A dev server's HMR socket lives for hours; Node's default request timeout (5 min) would cut it.
  server.requestTimeout = 0;
  server.keepAliveTimeout = 5000;
  return listen(server, { host, port });
}

/** The control API on a unix socket that only this user may open. */
export async function listenUnixHttp(path: string, onRequest: RequestHandler): Promise<Server> {
  try {
    unlinkSync(path); // a socket file left by a killed agent refuses every bind
  } catch {
    // none
  }
  const server = createServer(onRequest);
  // Created 0600 from the start (a umask of 0177 while it binds), not chmod-ed after a window.
  const umask = process.umask(0o177);
  try {
    await listen(server, { path });
  } finally {
    process.umask(umask);
  }
  chmodSync(path, 0o600);
  return server;
}

export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections?.();
  });
}
