/**
 * The last errors in the logs, quoted. Only what happened since things last went right
 * counts: errors before the last good sync or the last server start are history.
 */
import { statSync } from 'node:fs';
import { readTailLines } from '../../os/log.js';
import { join } from 'node:path';
import { ok, warn, type Check } from '../types.js';

const TAIL_BYTES = 64 * 1024;
const MAX_LINES = 5;
const MAX_CHARS = 240;
/** Lines quoted from before a failed server's exit. */
const LAST_WORDS = 2;

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

/** The slot the agent serves from, by its own last word on it in server.log. */
const AGENT_LIVE = /\[agent\] (?:switched to|serving) slot ([ab])\b/;

interface Run {
  /** The start line's time; null for lines before any start in the tail. */
  start: string | null;
  lines: number[];
}

/**
 * The current server's output, and that of every server started after the last good
 * sync: a main that crashed at start and was rolled back left its reason there.
 *
 * Two slots write to one log, each line tagged `[<slot> <sha>]`, so a run is one slot's
 * lines from its start to its next start. What counts: the live slot's current run, and
 * any run started after the last good sync. The other slot's older runs are history (a
 * drained server, or the old live server failing while the sync that replaced it ran).
 * The agent's own lines count after the last good sync. A first-release log has no tags:
 * it is one slot whose latest run is the current server.
 */
function serverSince(lines: string[], lastGoodAt: string | null): string[] {
  const live =
    [...lines]
      .reverse()
      .map((l) => AGENT_LIVE.exec(l)?.[1])
      .find((s) => s !== undefined) ?? null;
  const after = (time: string | null) => lastGoodAt !== null && time !== null && time > lastGoodAt;
  const runs: { slot: string; run: Run }[] = [];
  const latest = new Map<string, Run>();
  const keep = new Set<number>();
  lines.forEach((l, i) => {
    const { slot } = splitServerLine(l);
    if (slot === 'agent') {
      if (lastGoodAt === null || after(l.slice(0, 19))) keep.add(i);
      return;
    }
    if (SERVER_START.test(l)) {
      const run = { start: l.slice(0, 19), lines: [] };
      runs.push({ slot, run });
      latest.set(slot, run);
      return;
    }
    let run = latest.get(slot);
    if (!run) {
      run = { start: null, lines: [] };
      runs.push({ slot, run });
      latest.set(slot, run);
    }
    run.lines.push(i);
  });
  for (const { slot, run } of runs) {
    const current = latest.get(slot) === run && (slot === '' || slot === live || lastGoodAt === null);
    if (current || after(run.start)) run.lines.forEach((i) => keep.add(i));
  }
  return lines.filter((_, i) => keep.has(i));
}

// The agent logs only an exit nobody asked for (a stop, a restart, a switch's drain are
// silent), so each one is a failure: "exit code 1", "signal SIGKILL". The first release's
// "server exited with 1" still counts in an old log.
const SERVER_EXIT =
  /\[localhost-ops\] (the dev server exited with (exit code \S+|signal \w+)|server exited with [1-9]\d*)$/;

/**
 * A server.log line's parts: its slot ('a', 'b'; 'agent' for the agent's own lines; '' for
 * an untagged first-release line) and what the program said.
 */
function splitServerLine(line: string): { slot: string; text: string } {
  const m = /^(?:\d{4}-\d\d-\d\d \d\d:\d\d:\d\d )?(?:\[([ab]) [0-9a-f-]{7}\] |(\[agent\] ))?(.*)$/.exec(line)!;
  return { slot: m[1] ?? (m[2] ? 'agent' : ''), text: m[3] };
}

/** Error lines, and the last words of a server that exited with a failure (its own message, whatever it says). */
function pickServerErrors(lines: string[]): string[] {
  const keep = new Set<number>();
  lines.forEach((l, i) => {
    if (SERVER_ERROR.test(l)) keep.add(i);
    if (!SERVER_EXIT.test(l)) return;
    keep.add(i);
    const { slot } = splitServerLine(l);
    // That server's own lines (the other slot and the agent speak in the same file); npm's
    // "> script" banner lines say nothing about why.
    const before = lines
      .slice(0, i)
      .map((b, j) => [splitServerLine(b), j] as const)
      .filter(([b]) => b.slot === slot && !b.text.startsWith('>') && !b.text.startsWith('[localhost-ops]'));
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
      sync: readTailLines(files.sync, TAIL_BYTES),
      server: readTailLines(files.server, TAIL_BYTES),
      syncCapture: readTailLines(files.syncCapture, TAIL_BYTES),
      serverCapture: captureIsNew ? readTailLines(files.serverCapture, TAIL_BYTES) : null,
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
