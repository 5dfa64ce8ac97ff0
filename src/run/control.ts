/**
 * The control API on run/control.sock (DESIGN §9): the sync and the small commands ask the
 * agent here, and nothing else listens. JSON in, JSON out.
 */
import type { IncomingMessage, ServerResponse } from '../os/http-server.js';
import { isSlot } from '../site/paths.js';
import type { ServerAgent } from './agent.js';

const BODY_MAX = 64 * 1024;

function readBody(req: IncomingMessage): Promise<Record<string, unknown>> {
  return new Promise((resolve) => {
    let text = '';
    req.setEncoding('utf8');
    req.on('data', (d: string) => {
      text += d;
      if (text.length > BODY_MAX) req.destroy();
    });
    req.on('end', () => {
      try {
        const data: unknown = text ? JSON.parse(text) : {};
        resolve(data && typeof data === 'object' && !Array.isArray(data) ? (data as Record<string, unknown>) : {});
      } catch {
        resolve({});
      }
    });
    req.on('error', () => resolve({}));
  });
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body) + '\n');
}

const SHA_RE = /^[0-9a-f]{40,64}$/;

export function createControlHandler(agent: ServerAgent) {
  return (req: IncomingMessage, res: ServerResponse): void => {
    void handle(agent, req, res).catch((err: unknown) =>
      send(res, 500, { error: (err as Error)?.message ?? String(err) }),
    );
  };
}

async function handle(agent: ServerAgent, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const parts = url.pathname.split('/').filter(Boolean);
  if (req.method === 'GET' && url.pathname === '/status') {
    return send(res, 200, await agent.status(url.searchParams.get('probe') === '1'));
  }
  if (req.method !== 'POST') return send(res, 404, { error: `no such endpoint: ${req.method} ${url.pathname}` });
  const body = await readBody(req);
  if (parts[0] === 'slots' && isSlot(parts[1]) && parts[2] === 'start' && parts.length === 3) {
    const sha = typeof body.sha === 'string' && SHA_RE.test(body.sha) ? body.sha : null;
    return send(res, 200, await agent.startStandby(parts[1], sha));
  }
  if (parts[0] === 'slots' && isSlot(parts[1]) && parts[2] === 'stop' && parts.length === 3) {
    return send(res, 200, await agent.stopStandby(parts[1]));
  }
  if (url.pathname === '/switch') {
    if (!isSlot(body.slot)) return send(res, 400, { error: 'switch needs {"slot": "a" | "b"}' });
    return send(res, 200, agent.switchTo(body.slot));
  }
  if (url.pathname === '/restart') {
    return send(res, 200, await agent.restartLive('request'));
  }
  send(res, 404, { error: `no such endpoint: POST ${url.pathname}` });
}
