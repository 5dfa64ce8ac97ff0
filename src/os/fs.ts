/** Small file helpers shared by the state, config and service modules. */
import {
  writeFileSync,
  renameSync,
  readFileSync,
  readdirSync,
  mkdirSync,
  unlinkSync,
  chmodSync,
  accessSync,
  constants,
  lstatSync,
  statSync,
} from 'node:fs';
import { uptime } from 'node:os';
import { dirname, basename, join } from 'node:path';

/** Writes via a temp file and rename, so a reader never sees half a file. */
export function writeFileAtomic(path: string, content: string, mode = 0o644): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o755 });
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  try {
    writeFileSync(tmp, content, { mode });
    chmodSync(tmp, mode); // exactly this mode, whatever the umask narrowed
    renameSync(tmp, path);
  } catch (err) {
    try {
      unlinkSync(tmp);
    } catch {
      // nothing to clean
    }
    throw err;
  }
}

/** writeFileAtomic's `.<name>.<pid>.tmp`, and the live link's `localhost-worktree.<pid>.tmp` (site/live-link.ts). */
const TEMP_FILE_RE = /^(\..+|localhost-worktree\.\d+)\.tmp$/;
/** A temp file is written and renamed within moments; one this old lost its writer. */
export const TEMP_FILE_MAX_AGE_MS = 60 * 60_000;

/**
 * Removes the temp files that a writer killed mid-write (kill -9) leaves for ever, when
 * older than maxAgeMs: a younger one may still be on its way to its rename. Looks in each
 * folder itself, not below it. Returns the paths removed.
 */
export function removeOldTempFiles(dirs: string[], maxAgeMs = TEMP_FILE_MAX_AGE_MS, now = Date.now()): string[] {
  const removed: string[] = [];
  for (const dir of dirs) {
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      continue;
    }
    for (const name of names.sort()) {
      if (!TEMP_FILE_RE.test(name)) continue;
      const path = join(dir, name);
      try {
        // lstat: the link's temp file is a symlink, judged by its own age.
        if (now - lstatSync(path).mtimeMs <= maxAgeMs) continue;
        unlinkSync(path);
        removed.push(path);
      } catch {
        // renamed or removed meanwhile
      }
    }
  }
  return removed;
}

/** Writes only when the content differs; returns whether it wrote. */
export function writeFileIfChanged(path: string, content: string, mode = 0o644): boolean {
  if (readTextOrNull(path) === content) {
    chmodSync(path, mode);
    return false;
  }
  writeFileAtomic(path, content, mode);
  return true;
}

export function readTextOrNull(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
}

export function readJsonOrNull<T>(path: string): T | null {
  const text = readTextOrNull(path);
  if (text === null) return null;
  try {
    return JSON.parse(text) as T;
  } catch {
    return null;
  }
}

export function ensureDir(path: string): void {
  mkdirSync(path, { recursive: true, mode: 0o755 });
}

/** A file's identity through symlinks: inode and mtime. '' when it is missing. */
export function getFileId(path: string): string {
  try {
    const st = statSync(path);
    return `${st.ino}:${Math.round(st.mtimeMs)}`;
  } catch {
    return '';
  }
}

/**
 * Written before this boot: a pid inside may belong to an unrelated process now, since
 * pids start over at every boot.
 */
export function isFromBeforeBoot(path: string): boolean {
  try {
    return statSync(path).mtimeMs < Date.now() - uptime() * 1000;
  } catch {
    return false;
  }
}

/** The first executable `name` on PATH, found by reading folders rather than spawning `which`. */
export function findOnPath(name: string, pathEnv = process.env.PATH ?? ''): string | null {
  for (const dir of pathEnv.split(':')) {
    if (!dir) continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return null;
}
