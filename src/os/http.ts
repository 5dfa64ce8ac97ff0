/** One HTTP GET against the literal address, with a precise timeout. node:http, not undici:
 * importing undici costs ~200 ms, and this runs on every no-op sync. */
import { request } from 'node:http';

export interface ProbeResult {
  status: number | null;
  error: string | null;
}

export function probeHttp(host: string, port: number, path: string, timeoutMs: number): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const req = request(
      {
        host,
        port,
        path,
        method: 'GET',
        agent: false,
        signal: AbortSignal.timeout(timeoutMs),
        headers: { 'user-agent': 'localhost-ops' },
      },
      (res) => {
        res.resume();
        res.on('error', () => undefined);
        resolve({ status: res.statusCode ?? null, error: null });
        res.destroy();
      },
    );
    req.on('error', (err: NodeJS.ErrnoException) => {
      const why =
        err.name === 'AbortError' || err.name === 'TimeoutError'
          ? `no answer within ${timeoutMs} ms`
          : (err.code ?? err.message);
      resolve({ status: null, error: why });
    });
    req.end();
  });
}

export function isHealthyStatus(status: number | null): boolean {
  return status !== null && status < 500;
}

export function formatUrl(host: string, port: number, path = '/'): string {
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}${path}`;
}
