/** Step 4: bring the mirror back to a sane worktree of the canonical repo. */
import { existsSync, unlinkSync, rmSync } from 'node:fs';
import type { Site } from '../site/config.js';
import * as git from '../os/git.js';
import { WORKTREE_BRANCH } from '../site/paths.js';
import type { MirrorFacts, RepairStep } from './plan.js';
import { short } from '../site/last-sync.js';

/**
 * The mirror's state, its HEAD and the sha of `targetRef`: one git spawn when the mirror is
 * present (a worktree shares its repo's refs), one in the canonical repo when it is not.
 */
export async function getMirrorFacts(
  site: Site,
  targetRef: string,
): Promise<{ facts: MirrorFacts; head: git.MirrorHead; target: string | null }> {
  const { worktree } = site.paths;
  const present = existsSync(worktree) && git.isWorktreeOf(worktree, site.config.repo);
  const head = present ? await git.getMirrorHead(worktree, targetRef) : { head: null, branchRef: null, also: null };
  return {
    head: { head: head.head, branchRef: head.branchRef },
    target: present ? head.also : await git.getRefSha(site.config.repo, targetRef),
    facts: {
      present,
      staleIndexLock: present && (await git.getStaleIndexLockAge(worktree)) !== null,
      onSyncBranch: head.branchRef === `refs/heads/${WORKTREE_BRANCH}`,
    },
  };
}

/** Carries out the repairs; returns one line per repair for the log. */
export async function repairMirror(site: Site, steps: RepairStep[], recreateAt: string): Promise<string[]> {
  const { worktree } = site.paths;
  const repo = site.config.repo;
  const done: string[] = [];
  for (const step of steps) {
    if (step === 'recreate') {
      // A folder that is not a registered worktree (half-deleted, or a stray copy) goes first.
      if (existsSync(worktree)) rmSync(worktree, { recursive: true, force: true });
      await git.pruneWorktrees(repo);
      await git.addWorktree(repo, worktree, recreateAt);
      done.push(`recreated the mirror at ${short(recreateAt)}`);
    } else if (step === 'remove-index-lock') {
      const lock = git.getIndexLockPath(worktree);
      if (lock) unlinkSync(lock);
      done.push('removed a stale index.lock');
    } else {
      await git.switchToSyncBranch(worktree);
      done.push(`switched the mirror back to ${WORKTREE_BRANCH}`);
    }
  }
  return done;
}
