/** Timestamped log lines and size-bounded logs (5 MB, 3 kept). */
import {
  appendFileSync,
  closeSync,
  copyFileSync,
  fstatSync,
  openSync,
  readSync,
  renameSync,
  statSync,
  truncateSync,
  existsSync,
} from 'node:fs';
import { ensureDir } from './fs.js';
import { dirname } from 'node:path';

export const ROTATE_BYTES = 5 * 1024 * 1024;
export const ROTATE_KEEP = 3;

export function appendLogLine(file: string, message: string): void {
  ensureDir(dirname(file));
  appendFileSync(file, `${formatLocalTime()} ${message.replace(/[\r\n]+/g, ' ')}\n`, { mode: 0o644 });
}

/**
 * Rotates file → file.1 → … → file.N once it passes the limit. Copy-then-truncate rather
 * than rename: launchd and the server hold these files open in append mode, and a renamed
 * file would keep receiving their output.
 */
export function rotateIfLarge(file: string, limit = ROTATE_BYTES, keep = ROTATE_KEEP): boolean {
  let size: number;
  try {
    size = statSync(file).size;
  } catch {
    return false;
  }
  if (size < limit) return false;
  for (let i = keep - 1; i >= 1; i--) {
    if (existsSync(`${file}.${i}`)) renameSync(`${file}.${i}`, `${file}.${i + 1}`);
  }
  copyFileSync(file, `${file}.1`);
  truncateSync(file, 0);
  return true;
}

/** The last `bytes` of a file as lines, without reading a 5 MB log whole; null when unreadable. */
export function readTailLines(path: string, bytes = 64 * 1024): string[] | null {
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

/**
 * What a process last wrote to a log of `[pid] step: …` lines (its last 64 KB), without the
 * time and the tag: the step a running sync is at. null when it wrote nothing there.
 */
export function readLastLineOf(file: string, pid: number, max = 160): string | null {
  const lines = readTailLines(file) ?? [];
  const mark = `[${pid}] `;
  for (let i = lines.length - 1; i >= 0; i--) {
    const at = lines[i].indexOf(mark);
    if (at >= 0) return lines[i].slice(at + mark.length).slice(0, max);
  }
  return null;
}

/** Local time as "2026-03-16 20:29:43". */
export function formatLocalTime(date = new Date()): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${date.getFullYear()}-${p(date.getMonth() + 1)}-${p(date.getDate())} ${p(date.getHours())}:${p(date.getMinutes())}:${p(date.getSeconds())}`;
}
