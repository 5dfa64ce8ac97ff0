/**
 * The front door's proxy: http-proxy-3 (the library Vite's own dev proxy uses), wrapped
 * once. It keeps the Host header (the dev server's own host checks still run), streams both
 * ways, and needs an error handler or a refused upstream throws (TOOLCHAIN.md).
 */
import { createProxyServer } from 'http-proxy-3';
import { Readable } from 'node:stream';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';

export interface Proxy {
  /** Proxies one request; onError is told a failure before or during the upstream answer. */
  web(
    req: IncomingMessage,
    res: ServerResponse,
    port: number,
    onError: (err: NodeJS.ErrnoException) => void,
    retry?: boolean,
  ): void;
  ws(req: IncomingMessage, socket: Duplex, head: Buffer, port: number): void;
}

export function createProxy(onResponse: (proxyRes: IncomingMessage, req: IncomingMessage) => void): Proxy {
  const proxy = createProxyServer({ ws: true, xfwd: false, changeOrigin: false, proxyTimeout: 0 });
  proxy.on('proxyRes', (proxyRes, req) => onResponse(proxyRes, req));
  proxy.on('error', (_err, _req, res) => {
    // Errors with a per-call callback never reach here; a websocket's do. End it quietly.
    if (res && 'destroy' in res && !('writeHead' in res)) (res as Duplex).destroy();
  });
  return {
    web(req, res, port, onError, retry = false) {
      // A retried request's body was already read; http-proxy pipes `buffer` instead. Only
      // bodiless requests (GET, HEAD) are ever retried.
      const buffer = retry ? Readable.from([]) : undefined;
      proxy.web(req, res, { target: { host: '127.0.0.1', port }, buffer }, (err) =>
        onError(err as NodeJS.ErrnoException),
      );
    },
    ws(req, socket, head, port) {
      proxy.ws(req, socket, head, { target: { host: '127.0.0.1', port } }, () => socket.destroy());
    },
  };
}
