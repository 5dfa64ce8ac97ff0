/**
 * sync.lock: held while a sync runs. Line 1: the holder's pid; line 2, while it runs one:
 * the process group of its npm ci; line 3: when the holder started (getProcessStart). A
 * lock is stale when its pid is gone, was written before this boot, or now belongs to a
 * process that started at another time (the pid was reused): it is taken over. A live one
 * is waited for.
 */
import { openSync, writeSync, closeSync, readFileSync, renameSync, unlinkSync, linkSync, statSync } from 'node:fs';
import { getProcessStart, isAlive, isGroupAlive, sleep, stopGroup } from './exec.js';
import { isFromBeforeBoot, writeFileAtomic } from './fs.js';
import { OpsError } from '../errors.js';

export interface LockFile {
  pid: number | null;
  /** The process group of the holder's npm ci, while one runs. */
  child: number | null;
  /** The holder's start as getProcessStart gave it; null in a lock from before this was recorded. */
  start: string | null;
}

export function readLockFile(path: string): LockFile {
  try {
    const [a, b, c] = readFileSync(path, 'utf8').split('\n');
    const ok = (text: string | undefined) => {
      const n = Number(text?.trim());
      return text?.trim() && Number.isInteger(n) && n > 0 ? n : null;
    };
    return { pid: ok(a), child: ok(b), start: c?.trim() || null };
  } catch {
    return { pid: null, child: null, start: null };
  }
}

function formatLock(pid: number, child: number | null, start: string | null): string {
  return `${pid}\n${child ?? ''}\n${start ?? ''}\n`;
}

export interface HolderFacts {
  alive: boolean;
  /** The lock file was written before this boot: its pid means nothing now. */
  beforeBoot: boolean;
  /** The start recorded in the lock, and the start of the process that has that pid now. */
  recordedStart: string | null;
  currentStart: string | null;
}

/**
 * Pure: the holder named in a lock is gone. A live pid whose start differs from the one
 * recorded is another program that was given the same pid. A lock without a start (written
 * by an older version) or an OS that will not say: the pid alone decides, as before.
 */
export function isHolderGone(f: HolderFacts): boolean {
  if (!f.alive || f.beforeBoot) return true;
  if (f.recordedStart === null || f.currentStart === null) return false;
  return f.recordedStart !== f.currentStart;
}

async function getHolderFacts(path: string, lock: LockFile): Promise<HolderFacts> {
  const alive = lock.pid !== null && isAlive(lock.pid);
  return {
    alive,
    beforeBoot: isFromBeforeBoot(path),
    recordedStart: lock.start,
    currentStart: alive && lock.start !== null ? await getProcessStart(lock.pid as number) : null,
  };
}

/** The pid of the live sync holding the lock at path, or null when none does (no lock, or a stale one). */
export async function getLiveHolder(path: string): Promise<number | null> {
  const lock = readLockFile(path);
  if (lock.pid === null) return null;
  return isHolderGone(await getHolderFacts(path, lock)) ? null : lock.pid;
}

function tryCreate(path: string, start: string | null): boolean {
  try {
    const fd = openSync(path, 'wx', 0o644);
    writeSync(fd, formatLock(process.pid, null, start));
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
  const lock = readLockFile(aside);
  const facts = await getHolderFacts(aside, lock);
  const gone = lock.pid === null || isHolderGone(facts);
  // A holder killed mid-`npm ci` leaves npm running in its own group; end it before
  // anyone installs into the same folder.
  if (!facts.beforeBoot && lock.child !== null && gone && isGroupAlive(lock.child)) await stopGroup(lock.child, 2000);
  if (!gone) {
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
  /** The stale lock's pid was alive, but another program's (pid reuse). */
  tookOverReused: boolean;
  waitedMs: number;
}

export async function acquireLock(path: string, waitMs = 120_000): Promise<Lock> {
  const start = Date.now();
  const ownStart = await getProcessStart(process.pid);
  let tookOverFrom: number | null = null;
  let tookOverReused = false;
  for (;;) {
    if (tryCreate(path, ownStart)) {
      return {
        tookOverFrom,
        tookOverReused,
        waitedMs: Date.now() - start,
        release() {
          if (readLockFile(path).pid === process.pid) unlinkSync(path);
        },
        noteChild(pgid) {
          writeFileAtomic(path, formatLock(process.pid, pgid, ownStart));
        },
      };
    }
    const lock = readLockFile(path);
    const holder = lock.pid;
    // An empty lock file is a holder between create and write; give it a moment.
    const facts = holder === null ? null : await getHolderFacts(path, lock);
    const stale = facts === null ? ageMs(path) > 5000 : isHolderGone(facts);
    if (stale) {
      tookOverFrom = holder;
      tookOverReused = facts?.alive === true && !facts.beforeBoot;
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
