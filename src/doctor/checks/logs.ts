/**
 * The last errors in the logs, quoted. Only what happened since things last went right
 * counts: errors before the last good sync or the last server start are history.
 */
import { closeSync, fstatSync, openSync, readSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ok, warn, type Check } from '../types.js';

const TAIL_BYTES = 64 * 1024;
const MAX_LINES = 5;
const MAX_CHARS = 240;
/** Lines quoted from before a failed server's exit. */
const LAST_WORDS = 2;

/** The last `bytes` of a file as lines, without reading a 5 MB log whole. */
export function readTailLines(path: string, bytes = TAIL_BYTES): string[] | null {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return null;
  }
  try {
    const size = fstatSync(fd).size;
    const length = Math.min(size, bytes);
    const buf = Buffer.alloc(length);
    readSync(fd, buf, 0, length, size - length);
    const lines = buf.toString('utf8').split('\n');
    if (length < size) lines.shift(); // a partial first line
    return lines.filter((l) => l.trim() !== '');
  } finally {
    closeSync(fd);
  }
}

/** The sync job repeats the same failure every interval: quote it once, its latest time. */
function dedupe(lines: string[]): string[] {
  const text = (l: string) => l.replace(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d (\[\d+\] )?/, '');
  const seen = new Set<string>();
  const out: string[] = [];
  for (let i = lines.length - 1; i >= 0; i--) {
    if (seen.has(text(lines[i]))) continue;
    seen.add(text(lines[i]));
    out.unshift(lines[i]);
  }
  return out;
}

function after(lines: string[], marker: RegExp): string[] {
  for (let i = lines.length - 1; i >= 0; i--) if (marker.test(lines[i])) return lines.slice(i + 1);
  return lines;
}

const SYNC_OK = /\] done: (updated|noop) /;
// Not the `done:` lines: they repeat last-sync.env, which the last-sync check reports.
const SYNC_ERROR = /\] [\w-]+: failed: |\] error: |npm (ERR!|error) /;
const SERVER_START = /\[localhost-ops\] starting /;
const SERVER_ERROR = /\b(error|exception|fatal|panic|EADDRINUSE|EACCES|EPERM)\b|ERR!/i;
/** What the service manager captured: the tool failing before it could write its own log. */
const CAPTURE_ERROR = /^localhost-ops: |Error\b|Operation not permitted/;

/**
 * The current server's output, and that of every server started after the last good
 * sync: a main that crashed at start and was rolled back left its reason there.
 */
function serverSince(lines: string[], lastGoodAt: string | null): string[] {
  const starts = lines.flatMap((l, i) => (SERVER_START.test(l) ? [i] : []));
  if (starts.length === 0) return lines;
  const later = lastGoodAt === null ? undefined : starts.find((i) => lines[i].slice(0, 19) > lastGoodAt);
  return lines.slice(Math.min(later ?? Infinity, starts[starts.length - 1])).filter((l) => !SERVER_START.test(l));
}

// A server stopped on purpose (a restart, an uninstall) is not a failure.
const SERVER_EXIT = /\[localhost-ops\] server exited with [1-9]\d*$/;

/** Error lines, and the last words of a server that exited with a failure (its own message, whatever it says). */
function pickServerErrors(lines: string[]): string[] {
  const keep = new Set<number>();
  lines.forEach((l, i) => {
    if (SERVER_ERROR.test(l)) keep.add(i);
    if (!SERVER_EXIT.test(l)) return;
    keep.add(i);
    // npm's "> script" banner lines say nothing about why.
    const before = lines
      .slice(0, i)
      .map((b, j) => [b, j] as const)
      .filter(([b]) => !b.startsWith('>'));
    for (const [, j] of before.slice(-LAST_WORDS)) keep.add(j);
  });
  return lines.filter((_, i) => keep.has(i));
}

/** Pure: the error lines worth quoting, per log, from the logs' tails. */
export function findLogErrors(logs: {
  sync: string[] | null;
  server: string[] | null;
  syncCapture: string[] | null;
  serverCapture: string[] | null;
}): { file: 'sync' | 'server' | 'syncCapture' | 'serverCapture'; lines: string[] }[] {
  const lastGood = [...(logs.sync ?? [])].reverse().find((l) => SYNC_OK.test(l));
  const found = [
    { file: 'sync' as const, lines: after(logs.sync ?? [], SYNC_OK).filter((l) => SYNC_ERROR.test(l)) },
    {
      file: 'server' as const,
      lines: pickServerErrors(serverSince(logs.server ?? [], lastGood ? lastGood.slice(0, 19) : null)),
    },
    {
      file: 'syncCapture' as const,
      lines: after(logs.syncCapture ?? [], /^(updated|noop): /).filter((l) => CAPTURE_ERROR.test(l)),
    },
    { file: 'serverCapture' as const, lines: (logs.serverCapture ?? []).filter((l) => CAPTURE_ERROR.test(l)) },
  ];
  return found
    .filter((f) => f.lines.length > 0)
    .map((f) => ({
      file: f.file,
      lines: dedupe(f.lines)
        .slice(-MAX_LINES)
        .map((l) => (l.length > MAX_CHARS ? `${l.slice(0, MAX_CHARS - 1)}…` : l)),
    }));
}

function mtime(path: string): number {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return 0;
  }
}

export const logs: Check = {
  id: 'logs',
  title: 'Recent errors in the logs',
  dependsOn: [],
  async run(ctx) {
    const { syncLog, serverLog, logs: dir } = ctx.paths;
    const kind = ctx.config.service;
    const files = {
      sync: syncLog,
      server: serverLog,
      syncCapture: join(dir, `${kind}-sync.log`),
      serverCapture: join(dir, `${kind}-server.log`),
    };
    // The server capture holds only what `run` printed before the server log took over; it
    // matters only when written after the server log, i.e. by a start that failed.
    const captureIsNew = mtime(files.serverCapture) > mtime(files.server);
    const found = findLogErrors({
      sync: readTailLines(files.sync),
      server: readTailLines(files.server),
      syncCapture: readTailLines(files.syncCapture),
      serverCapture: captureIsNew ? readTailLines(files.serverCapture) : null,
    });
    const evidence = Object.values(files).map((f) => `read the tail of ${f}`);
    if (found.length === 0) return ok('no errors since the last good sync and the last server start', { evidence });
    const count = found.reduce((n, f) => n + f.lines.length, 0);
    const detail = found.map((f) => `${files[f.file]}:\n${f.lines.map((l) => `  ${l}`).join('\n')}`).join('\n');
    const first = files[found[0].file];
    const names = found.map((f) => files[f.file].split('/').pop()).join(', ');
    return warn(
      `${count} recent error line${count === 1 ? '' : 's'} in ${names}`,
      `Read the lines above; for the whole story: tail -n 50 ${first}`,
      `tail -n 50 ${first}`,
      { detail, evidence },
    );
  },
};
