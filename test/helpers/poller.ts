/**
 * A visitor that never stops reloading: a GET through the front door every 20 ms, counting
 * what a person would notice. Independent of the code under test (node:http only).
 */
import { request } from 'node:http';

export interface PollStats {
  total: number;
  /** Refused, reset or timed out: no answer at all. */
  failed: number;
  /** Answers of 500 and above. */
  errors: number;
  /** Each distinct body, in the order first seen. */
  bodies: string[];
  /** The first few failures, for the assertion message. */
  samples: string[];
}

/** One GET of / on a new connection: status null when no whole answer came (refused, reset, cut short, timed out). */
export function getPage(
  port: number,
  headers: Record<string, string> = {},
  timeoutMs = 15_000,
): Promise<{ status: number | null; headers: Record<string, unknown>; body: string; error?: string }> {
  return new Promise((resolve) => {
    const req = request(
      { host: '127.0.0.1', port, path: '/', agent: false, headers, signal: AbortSignal.timeout(timeoutMs) },
      (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (d: string) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? null, headers: res.headers, body }));
        res.on('error', (e) => resolve({ status: null, headers: res.headers, body, error: e.message }));
      },
    );
    req.on('error', (e: NodeJS.ErrnoException) =>
      resolve({ status: null, headers: {}, body: '', error: e.code ?? e.message }),
    );
    req.end();
  });
}

export interface Poller {
  stats: PollStats;
  stop(): Promise<PollStats>;
}

/** No test polls longer than this; a poller left running by a failed test then ends by itself. */
const MAX_LIFE_MS = 180_000;

export function startPoller(port: number, everyMs = 20, headers: Record<string, string> = {}): Poller {
  const stats: PollStats = { total: 0, failed: 0, errors: 0, bodies: [], samples: [] };
  let running = true;
  // A test that fails before stop() must not keep uvu's process alive for ever.
  const giveUp = Date.now() + MAX_LIFE_MS;
  const loop = (async () => {
    while (running && Date.now() < giveUp) {
      const started = Date.now();
      const r = await getPage(port, headers);
      stats.total++;
      if (r.status === null) {
        stats.failed++;
        if (stats.samples.length < 5) stats.samples.push(`failed: ${r.error}`);
      } else if (r.status >= 500) {
        stats.errors++;
        if (stats.samples.length < 5) stats.samples.push(`${r.status}: ${r.body.slice(0, 200)}`);
      } else if (!stats.bodies.includes(r.body)) {
        stats.bodies.push(r.body);
      }
      const wait = everyMs - (Date.now() - started);
      if (wait > 0) await new Promise((res) => setTimeout(res, wait));
    }
  })();
  return {
    stats,
    async stop() {
      running = false;
      await loop;
      return stats;
    },
  };
}

export function describeStats(s: PollStats): string {
  return `${s.total} requests, ${s.failed} failed, ${s.errors} ≥ 500; bodies ${JSON.stringify(s.bodies)}; ${s.samples.join(' | ')}`;
}
