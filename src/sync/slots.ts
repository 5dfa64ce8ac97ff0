/**
 * Step 4: the two slots present and sane, the link, and the first release's single
 * worktree migrated once the slots serve (DESIGN §2, §3).
 */
import { existsSync, readFileSync, rmSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import type { Site } from '../site/config.js';
import { SLOTS, type Slot } from '../site/paths.js';
import { readLiveLink, writeLiveLink, type LinkState } from '../site/live-link.js';
import { short } from '../site/last-sync.js';
import * as git from '../os/git.js';
import type { RepairStep, SlotFacts } from './plan.js';

/** The first release's branch for its single worktree. */
export const LEGACY_BRANCH = 'localhost-sync';

export function readLinkState(site: Site): LinkState {
  return readLiveLink(site.paths, site.config.repo);
}

/** HEAD names a branch (`ref: refs/heads/…`) rather than a commit: read from the worktree's git dir. */
function isOnBranch(dir: string): boolean {
  const gitDir = git.getWorktreeGitDir(dir);
  if (!gitDir) return false;
  try {
    return readFileSync(join(gitDir, 'HEAD'), 'utf8').startsWith('ref:');
  } catch {
    return false;
  }
}

/** A detached slot's HEAD, read from its git dir without spawning git; null when it is not a plain sha. */
export function readSlotHead(dir: string): string | null {
  const gitDir = git.getWorktreeGitDir(dir);
  if (!gitDir) return null;
  try {
    const head = readFileSync(join(gitDir, 'HEAD'), 'utf8').trim();
    return /^[0-9a-f]{40,64}$/.test(head) ? head : null;
  } catch {
    return null;
  }
}

/** File reads only (plus a process scan when an index.lock exists): cheap enough for every sync. */
export async function getSlotFacts(site: Site): Promise<Record<Slot, SlotFacts>> {
  const one = async (slot: Slot): Promise<SlotFacts> => {
    const dir = site.paths.slots[slot];
    const present = existsSync(dir) && git.isWorktreeOf(dir, site.config.repo);
    return {
      present,
      staleIndexLock: present && (await git.getStaleIndexLockAge(dir)) !== null,
      onBranch: present && isOnBranch(dir),
    };
  };
  return { a: await one('a'), b: await one('b') };
}

/** Carries out the repairs; returns one line per repair for the log. */
export async function repairSlots(site: Site, steps: RepairStep[], createAt: string): Promise<string[]> {
  const repo = site.config.repo;
  const done: string[] = [];
  let pruned = false;
  for (const step of steps) {
    const dir = site.paths.slots[step.slot];
    if (step.kind === 'create') {
      // A folder that is not a registered worktree (half-deleted, or a stray copy) goes first.
      if (existsSync(dir)) rmSync(dir, { recursive: true, force: true });
      if (!pruned) await git.pruneWorktrees(repo);
      pruned = true;
      await git.addDetachedWorktree(repo, dir, createAt);
      done.push(`created slot ${step.slot} at ${short(createAt)}`);
    } else if (step.kind === 'remove-index-lock') {
      const lock = git.getIndexLockPath(dir);
      if (lock) unlinkSync(lock);
      done.push(`removed a stale index.lock in slot ${step.slot}`);
    } else {
      // Its files stay as they are; the branch goes back to the canonical repo's user.
      await git.git(dir, ['checkout', '--quiet', '--detach']);
      done.push(`detached slot ${step.slot} from the branch someone checked out in it`);
    }
  }
  return done;
}

/** Points localhost-worktree at the live slot when it is missing or names the wrong one. */
export function repairLink(site: Site, live: Slot): string | null {
  const state = readLinkState(site);
  if (state.kind === 'legacy' || (state.kind === 'slot' && state.slot === live)) return null;
  writeLiveLink(site.paths, live);
  return `pointed localhost-worktree at slot ${live}`;
}

/**
 * The first release's worktree, once a slot serves: removed, its localhost-sync branch
 * deleted only if it was that worktree's, and localhost-worktree made the link.
 */
export async function migrateLegacy(site: Site, live: Slot): Promise<string[]> {
  const link = site.paths.worktree;
  const repo = site.config.repo;
  const branchRef = (await git.getMirrorHead(link)).branchRef;
  await git.removeWorktree(repo, link);
  rmSync(link, { recursive: true, force: true });
  const lines = ["removed the first release's single worktree"];
  if (branchRef === `refs/heads/${LEGACY_BRANCH}`) {
    await git.deleteBranch(repo, LEGACY_BRANCH);
    lines.push(`deleted its ${LEGACY_BRANCH} branch`);
  }
  writeLiveLink(site.paths, live);
  lines.push(`localhost-worktree now points at slot ${live}`);
  return lines;
}

export function getSlotDirs(site: Site): string[] {
  return SLOTS.map((s) => site.paths.slots[s]);
}
