/**
 * sync.lock: held while a sync runs, holder pid inside. A lock whose pid is gone is
 * stale and taken over; a live one is waited for.
 */
import { openSync, writeSync, closeSync, readFileSync, renameSync, unlinkSync, linkSync, statSync } from 'node:fs';
import { isAlive, isGroupAlive, sleep, stopGroup } from './exec.js';
import { isFromBeforeBoot, writeFileAtomic } from './fs.js';
import { OpsError } from '../errors.js';

/** Line 1: the holder's pid. Line 2, while it runs one: the process group of its npm ci. */
function readPids(path: string): [number | null, number | null] {
  try {
    const [a, b] = readFileSync(path, 'utf8')
      .split('\n')
      .map((l) => Number(l.trim()));
    const ok = (n: number | undefined) => (n !== undefined && Number.isInteger(n) && n > 0 ? n : null);
    return [ok(a), ok(b)];
  } catch {
    return [null, null];
  }
}

function readHolder(path: string): number | null {
  return readPids(path)[0];
}

function tryCreate(path: string): boolean {
  try {
    const fd = openSync(path, 'wx', 0o644);
    writeSync(fd, `${process.pid}\n`);
    closeSync(fd);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
}

function ageMs(path: string): number {
  try {
    return Date.now() - statSync(path).mtimeMs;
  } catch {
    return 0;
  }
}

/**
 * Moves a stale lock aside. Renaming (not unlinking) means two processes that both saw it
 * stale cannot both win: only one rename succeeds. If what was moved turns out to be a
 * fresh live lock, link it back.
 */
async function takeOverStale(path: string): Promise<void> {
  const aside = `${path}.stale.${process.pid}`;
  try {
    renameSync(path, aside);
  } catch {
    return;
  }
  const [pid, child] = readPids(aside);
  const beforeBoot = isFromBeforeBoot(aside);
  // A holder killed mid-`npm ci` leaves npm running in its own group; end it before
  // anyone installs into the same folder.
  if (!beforeBoot && child !== null && (pid === null || !isAlive(pid)) && isGroupAlive(child))
    await stopGroup(child, 2000);
  if (!beforeBoot && pid !== null && isAlive(pid)) {
    try {
      linkSync(aside, path);
    } catch {
      // someone else created a new lock meanwhile; theirs stands
    }
  }
  try {
    unlinkSync(aside);
  } catch {
    // already gone
  }
}

export interface Lock {
  release(): void;
  /** Records (or clears) a child process group that must not outlive a killed holder. */
  noteChild(pgid: number | null): void;
  tookOverFrom: number | null;
  waitedMs: number;
}

export async function acquireLock(path: string, waitMs = 120_000): Promise<Lock> {
  const start = Date.now();
  let tookOverFrom: number | null = null;
  for (;;) {
    if (tryCreate(path)) {
      return {
        tookOverFrom,
        waitedMs: Date.now() - start,
        release() {
          if (readHolder(path) === process.pid) unlinkSync(path);
        },
        noteChild(pgid) {
          writeFileAtomic(path, `${process.pid}\n${pgid ?? ''}\n`);
        },
      };
    }
    const holder = readHolder(path);
    // An empty lock file is a holder between create and write; give it a moment.
    const stale = holder === null ? ageMs(path) > 5000 : !isAlive(holder) || isFromBeforeBoot(path);
    if (stale) {
      tookOverFrom = holder;
      await takeOverStale(path);
      continue;
    }
    if (Date.now() - start > waitMs) {
      throw new OpsError(
        `Another sync (pid ${holder}) has held the lock for over ${Math.round(waitMs / 1000)} s.`,
        `Wait for it, or end it with kill ${holder}.`,
      );
    }
    await sleep(100);
  }
}
