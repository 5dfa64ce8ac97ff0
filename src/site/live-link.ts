/**
 * `localhost-worktree`: the symlink to the live slot (DESIGN §2). One reader and one writer,
 * shared by the server agent (which switches) and the sync (which repairs and migrates).
 */
import { lstatSync, readlinkSync, renameSync, symlinkSync, unlinkSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { isWorktreeOf } from '../os/git.js';
import { isSlot, type SitePaths, type Slot } from './paths.js';

export type LinkState = { kind: 'slot'; slot: Slot } | { kind: 'legacy' } | { kind: 'missing' };

/** What the link names. A first release's worktree folder in its place is `legacy`. */
export function readLiveLink(paths: SitePaths, repo: string): LinkState {
  const link = paths.worktree;
  try {
    if (lstatSync(link).isSymbolicLink()) {
      // The whole target counts: a link into another site's slots/a is not ours.
      const target = resolve(dirname(link), readlinkSync(link));
      const slot = basename(target);
      return isSlot(slot) && target === paths.slots[slot] ? { kind: 'slot', slot } : { kind: 'missing' };
    }
    return isWorktreeOf(link, repo) ? { kind: 'legacy' } : { kind: 'missing' };
  } catch {
    return { kind: 'missing' };
  }
}

/**
 * Points the link at a slot, atomically (a new link renamed over the old one), relative so
 * the site folder can move. A first release's worktree folder is left for the migration.
 */
export function writeLiveLink(paths: SitePaths, slot: Slot): void {
  const link = paths.worktree;
  try {
    if (lstatSync(link).isDirectory()) return;
  } catch {
    // missing: created below
  }
  const tmp = `${link}.${process.pid}.tmp`;
  try {
    unlinkSync(tmp);
  } catch {
    // none left
  }
  symlinkSync(join('slots', slot), tmp);
  renameSync(tmp, link);
}
