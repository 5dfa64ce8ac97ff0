/**
 * Every HTTP request the tool makes: health probes and the control API's client, both
 * through undici. undici is loaded on first use (~200 ms): the resident agents pay it once,
 * and a command that makes no request never does. AbortSignal.timeout, not undici's own
 * timeouts, which fire only about once a second (TOOLCHAIN.md).
 */
import type { Dispatcher } from 'undici';

export interface ProbeResult {
  status: number | null;
  error: string | null;
}

type Undici = typeof import('undici');
let undici: Promise<Undici> | undefined;
const loadUndici = () => (undici ??= import('undici'));

function describeFailure(err: unknown, timeoutMs: number): string {
  const e = err as NodeJS.ErrnoException & { cause?: NodeJS.ErrnoException };
  if (e?.name === 'AbortError' || e?.name === 'TimeoutError') return `no answer within ${timeoutMs} ms`;
  return e?.code ?? e?.cause?.code ?? e?.message ?? String(err);
}

/** What a path in a request line may hold as it is (RFC 3986 pchar, `/` and the query's `?`). */
const RAW_PATH_CHAR = /[A-Za-z0-9\-._~!$&'()*+,;=:@/?]/;

/**
 * Pure: a path as it goes on the wire (DESIGN §3 Limits: `--health-path` is sent
 * percent-encoded). Anything else (non-ASCII as UTF-8, spaces, `#`, a `%` that starts no
 * escape) is percent-encoded; an escape already there is kept, so encoding twice changes
 * nothing.
 */
export function encodeRequestPath(path: string): string {
  let out = '';
  for (let i = 0; i < path.length;) {
    const c = path.codePointAt(i) as number;
    const ch = String.fromCodePoint(c);
    i += ch.length;
    if (ch === '%' && /^[0-9A-Fa-f]{2}$/.test(path.slice(i, i + 2))) out += ch;
    else if (RAW_PATH_CHAR.test(ch)) out += ch;
    // A lone surrogate has no UTF-8: it goes as U+FFFD.
    else out += c >= 0xd800 && c <= 0xdfff ? '%EF%BF%BD' : encodeURIComponent(ch);
  }
  return out;
}

/** One GET of host:port/path (percent-encoded here) with a precise timeout; the body is discarded. */
export async function probeHttp(
  host: string,
  port: number,
  path: string,
  timeoutMs: number,
  headers: Record<string, string> = {},
): Promise<ProbeResult> {
  const { request } = await loadUndici();
  try {
    const res = await request(formatUrl(host, port, encodeRequestPath(path)), {
      method: 'GET',
      signal: AbortSignal.timeout(timeoutMs),
      headers: { 'user-agent': 'localhost-ops', ...headers },
    });
    res.body.resume();
    res.body.on('error', () => undefined);
    return { status: res.statusCode, error: null };
  } catch (err) {
    return { status: null, error: describeFailure(err, timeoutMs) };
  }
}

export function isHealthyStatus(status: number | null): boolean {
  return status !== null && status < 500;
}

export function formatUrl(host: string, port: number, path = '/'): string {
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}${path}`;
}

const unixAgents = new Map<string, Dispatcher>();

export interface UnixResponse {
  status: number;
  body: unknown;
}

/**
 * A JSON request over a unix socket (the control API). Throws a plain Error with `code`
 * (ENOENT, ECONNREFUSED: no agent listens) or a timeout.
 */
export async function requestUnixJson(
  socketPath: string,
  method: 'GET' | 'POST',
  path: string,
  body: unknown,
  timeoutMs: number,
): Promise<UnixResponse> {
  const { Agent, request } = await loadUndici();
  let dispatcher = unixAgents.get(socketPath);
  if (!dispatcher) {
    dispatcher = new Agent({ connect: { socketPath }, headersTimeout: 0, bodyTimeout: 0 });
    unixAgents.set(socketPath, dispatcher);
  }
  const res = await request(`http://localhost${path}`, {
    method,
    dispatcher,
    signal: AbortSignal.timeout(timeoutMs),
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.body.text();
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    parsed = { error: text.slice(0, 300) };
  }
  return { status: res.statusCode, body: parsed };
}

/** Lets a short-lived command exit: keep-alive sockets to the agent would hold the loop open. */
export async function closeUnixClients(): Promise<void> {
  const agents = [...unixAgents.values()];
  unixAgents.clear();
  await Promise.all(agents.map((a) => a.close().catch(() => undefined)));
}
