/**
 * The front door (DESIGN §9): every request and websocket on host:port goes to the live
 * slot's dev server, with the Host header kept. Requests wait for a healthy live server
 * (a restart, a first install) up to 10 s, then get the explanation page. A GET whose
 * upstream died before answering (a crash between two requests) is sent again, so a
 * visitor never sees the dead server's refusal.
 */
import type { Duplex } from 'node:stream';
import type { IncomingMessage, ServerResponse } from '../os/http-server.js';
import { createProxy } from '../os/proxy.js';
import { isLoopbackAddress } from '../os/listeners.js';
import type { ServerAgent } from './agent.js';
import {
  RETRY_AFTER_S,
  renderUnavailableHtml,
  renderUnavailableText,
  wantsHtml,
  type Unavailable,
} from './status-page.js';

const WAIT_MS = 10_000;
const RETRYABLE = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ECONNABORTED']);

/** Pure: is this Host header a loopback name or address, on our port? (DNS rebinding guard.) */
export function isAllowedHost(hostHeader: string | undefined, port: number): boolean {
  if (!hostHeader) return false;
  const m = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(hostHeader.trim().toLowerCase());
  if (!m) return false;
  const name = m[1].replace(/\.$/, '');
  const p = m[2] === undefined ? 80 : Number(m[2]);
  if (p !== port) return false;
  return name === 'localhost' || name.endsWith('.localhost') || isLoopbackAddress(name);
}

/** Pure: a Location naming an inner port, pointed back at the front door the visitor used. */
export function rewriteLocation(location: string, innerPorts: number[], frontHost: string | undefined): string {
  const m = /^(https?:\/\/)(127\.0\.0\.1|localhost|\[::1\]):(\d+)(.*)$/i.exec(location);
  if (!m || !frontHost || !innerPorts.includes(Number(m[3]))) return location;
  return `${m[1]}${frontHost}${m[4]}`;
}

export interface FrontDoor {
  onRequest(req: IncomingMessage, res: ServerResponse): void;
  onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void;
}

export function createFrontDoor(agent: ServerAgent, describe: () => Unavailable): FrontDoor {
  const innerPorts = () => [agent.slots.a.port, agent.slots.b.port].filter((p): p is number => p !== null);
  const proxy = createProxy((proxyRes, req) => {
    const loc = proxyRes.headers.location;
    if (typeof loc === 'string') proxyRes.headers.location = rewriteLocation(loc, innerPorts(), req.headers.host);
  });
  const allowRemote = () => agent.site.config.allowRemote;
  const port = () => agent.site.config.port;

  function refuse(res: ServerResponse, host: string | undefined): void {
    res.writeHead(403, { 'content-type': 'text/plain; charset=utf-8' });
    res.end(
      `localhost-ops: refused a request for Host "${String(host).slice(0, 100)}": this mirror answers only to loopback names on port ${port()}.\n`,
    );
  }

  function unavailable(req: IncomingMessage, res: ServerResponse): void {
    if (res.headersSent) {
      res.destroy();
      return;
    }
    const u = describe();
    const html = wantsHtml(req.headers.accept);
    res.writeHead(503, {
      'content-type': html ? 'text/html; charset=utf-8' : 'text/plain; charset=utf-8',
      'retry-after': String(RETRY_AFTER_S),
      'cache-control': 'no-store',
    });
    res.end(req.method === 'HEAD' ? undefined : html ? renderUnavailableHtml(u) : renderUnavailableText(u));
  }

  async function forward(req: IncomingMessage, res: ServerResponse, deadline: number, retry: boolean): Promise<void> {
    const live = await agent.waitForLive(Math.max(0, deadline - Date.now()));
    if (!live) return unavailable(req, res);
    const end = agent.beginRequest(live.slot);
    res.once('close', end);
    proxy.web(
      req,
      res,
      live.port,
      (err) => {
        end();
        const bodiless = req.method === 'GET' || req.method === 'HEAD';
        const retryable = !res.headersSent && bodiless && RETRYABLE.has(err.code ?? '');
        if (retryable && Date.now() < deadline) {
          // The server died under us; the agent notices its exit within moments. Ask again.
          setTimeout(() => void forward(req, res, deadline, true), 100);
          return;
        }
        if (retryable && agent.live !== live.slot && agent.getLive()) {
          // Still queued in a switched-away server when its drain ran out (a slow Next compile):
          // a healthy new server is live, so the visitor gets it, with a fresh wait.
          void forward(req, res, Date.now() + WAIT_MS, true);
          return;
        }
        if (!res.headersSent) unavailable(req, res);
        else res.destroy();
      },
      retry,
    );
  }

  return {
    onRequest(req, res) {
      if (!allowRemote() && !isAllowedHost(req.headers.host, port())) return refuse(res, req.headers.host);
      void forward(req, res, Date.now() + WAIT_MS, false);
    },
    onUpgrade(req, socket, head) {
      socket.on('error', () => socket.destroy());
      if (!allowRemote() && !isAllowedHost(req.headers.host, port())) {
        socket.end('HTTP/1.1 403 Forbidden\r\nConnection: close\r\n\r\n');
        return;
      }
      void agent.waitForLive(WAIT_MS).then((live) => {
        if (!live) {
          socket.end(`HTTP/1.1 503 Service Unavailable\r\nRetry-After: ${RETRY_AFTER_S}\r\nConnection: close\r\n\r\n`);
          return;
        }
        agent.trackSocket(live.slot, socket);
        proxy.ws(req, socket, head, live.port);
      });
    },
  };
}
