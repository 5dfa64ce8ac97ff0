/**
 * `logs`: the last lines of a site's logs, colour codes stripped (DESIGN §1). Without
 * --sync or --server both, each line labelled, merged in time order by the timestamp every
 * logged line starts with (a line without one, such as npm's output, keeps its place after
 * the line before it). `-f` follows: new bytes are read as they come, and a file that
 * shrank was rotated (copy-then-truncate at 5 MB), so it is read again from its start.
 */
import { closeSync, fstatSync, openSync, readSync, statSync } from 'node:fs';
import type { Site } from '../site/config.js';
import { resolveSite } from '../site/store.js';
import { readTextOrNull } from '../os/fs.js';
import { UserError } from '../errors.js';
import { stripAnsi } from './format.js';

export type LogKind = 'sync' | 'server';

export interface LogLine {
  kind: LogKind;
  /** The leading "YYYY-MM-DD HH:MM:SS" (inherited from the line before when absent). */
  at: string;
  text: string;
}

const STAMP_RE = /^(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}) /;
const LABEL_WIDTH = 6;

/** Pure: a log's text as lines, each with its time (or the time of the line before it). */
export function parseLogLines(kind: LogKind, text: string, startAt = ''): LogLine[] {
  const lines: LogLine[] = [];
  let at = startAt;
  for (const raw of text.split('\n')) {
    if (raw === '') continue;
    const text = stripAnsi(raw);
    const m = STAMP_RE.exec(text);
    if (m) at = m[1];
    lines.push({ kind, at, text });
  }
  return lines;
}

/** Pure: merges logs already in time order into one, stable: at equal times the earlier log's lines come first. */
export function mergeByTime(logs: LogLine[][]): LogLine[] {
  const out: LogLine[] = [];
  const next = logs.map(() => 0);
  for (;;) {
    let best = -1;
    for (let i = 0; i < logs.length; i++) {
      if (next[i] >= logs[i].length) continue;
      if (best < 0 || logs[i][next[i]].at < logs[best][next[best]].at) best = i;
    }
    if (best < 0) return out;
    out.push(logs[best][next[best]++]);
  }
}

export function formatLogLine(line: LogLine, labelled: boolean): string {
  return labelled ? `${line.kind.padEnd(LABEL_WIDTH)} ${line.text}` : line.text;
}

export function parseLineCount(value: string | undefined): number {
  if (value === undefined) return 50;
  const text = String(value).trim();
  if (!/^\d+$/.test(text) || Number(text) > 1_000_000) {
    throw new UserError(`-n must be a whole number of lines, not "${text}".`, 'Pass -n 50, for example.');
  }
  return Number(text);
}

function getFile(site: Site, kind: LogKind): string {
  return kind === 'sync' ? site.paths.syncLog : site.paths.serverLog;
}

/** The last n lines of one log, reaching into its rotated copy (.1) when the current file is short. */
function readLastLines(file: string, kind: LogKind, n: number): LogLine[] {
  const current = parseLogLines(kind, readTextOrNull(file) ?? '');
  if (current.length >= n) return current.slice(current.length - n);
  const older = parseLogLines(kind, readTextOrNull(`${file}.1`) ?? '');
  const lastAt = older.length ? older[older.length - 1].at : '';
  const rest = current.map((l) => (l.at ? l : { ...l, at: lastAt }));
  return [...older, ...rest].slice(-n);
}

export async function logsCommand(argv: {
  name?: string;
  sync?: boolean;
  server?: boolean;
  lines?: string;
  follow?: boolean;
}): Promise<number> {
  const n = parseLineCount(argv.lines);
  const site = resolveSite(argv.name);
  const kinds: LogKind[] =
    argv.sync && !argv.server ? ['sync'] : argv.server && !argv.sync ? ['server'] : ['sync', 'server'];
  const labelled = kinds.length > 1;
  const merged = mergeByTime(kinds.map((k) => readLastLines(getFile(site, k), k, n)));
  const last = n === 0 ? [] : merged.slice(-n);
  if (last.length) process.stdout.write(last.map((l) => formatLogLine(l, labelled)).join('\n') + '\n');
  if (!argv.follow) return 0;
  return follow(
    kinds.map((k) => ({ kind: k, file: getFile(site, k) })),
    labelled,
  );
}

interface Followed {
  kind: LogKind;
  file: string;
  offset: number;
  partial: Buffer;
  at: string;
}

const FOLLOW_EVERY_MS = 250;

/** Prints what each log gains until SIGINT or SIGTERM; a file that shrank was rotated and is read from its start. */
function follow(files: { kind: LogKind; file: string }[], labelled: boolean): Promise<number> {
  const state: Followed[] = files.map(({ kind, file }) => ({
    kind,
    file,
    offset: sizeOf(file),
    partial: Buffer.alloc(0),
    at: '',
  }));
  return new Promise((resolve) => {
    const timer = setInterval(() => {
      const lines: LogLine[][] = state.map(readNew);
      const out = mergeByTime(lines);
      if (out.length) process.stdout.write(out.map((l) => formatLogLine(l, labelled)).join('\n') + '\n');
    }, FOLLOW_EVERY_MS);
    const stop = () => {
      clearInterval(timer);
      resolve(0);
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}

function sizeOf(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
}

/** Bytes of a file from `from` to its end (or nothing when it cannot be read). */
function readFrom(file: string, from: number): Buffer {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch {
    return Buffer.alloc(0);
  }
  try {
    const size = fstatSync(fd).size;
    const chunks: Buffer[] = [];
    let position = from;
    while (position < size) {
      const buf = Buffer.alloc(Math.min(size - position, 1 << 20));
      const got = readSync(fd, buf, 0, buf.length, position);
      if (got <= 0) break;
      chunks.push(buf.subarray(0, got));
      position += got;
    }
    return Buffer.concat(chunks);
  } finally {
    closeSync(fd);
  }
}

/** The complete lines a log gained since the last read. */
function readNew(f: Followed): LogLine[] {
  const size = sizeOf(f.file);
  let fresh: Buffer;
  if (size < f.offset) {
    // Rotated (copied to .1, then truncated): the end of the copy we had not read yet, then all of it.
    const missed = readFrom(`${f.file}.1`, f.offset);
    const now = readFrom(f.file, 0);
    fresh = Buffer.concat([missed, now]);
    f.offset = now.length;
  } else if (size > f.offset) {
    fresh = readFrom(f.file, f.offset);
    f.offset += fresh.length;
  } else {
    return [];
  }
  const bytes = Buffer.concat([f.partial, fresh]);
  // Only whole lines are printed; the rest (and any split character) waits for its newline.
  const end = bytes.lastIndexOf(0x0a);
  f.partial = end < 0 ? bytes : bytes.subarray(end + 1);
  if (end < 0) return [];
  const lines = parseLogLines(f.kind, bytes.subarray(0, end).toString('utf8'), f.at);
  if (lines.length) f.at = lines[lines.length - 1].at;
  return lines;
}
