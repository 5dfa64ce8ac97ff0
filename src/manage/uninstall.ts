/**
 * `uninstall`: stop and remove both jobs and free the port. --purge also removes the slots
 * (`git worktree remove`), a first release's worktree and branch, and the site's folder.
 * The canonical repo's own work is untouched.
 */
import { existsSync, rmSync } from 'node:fs';
import { resolveSite, writeSiteConfig } from '../site/store.js';
import { SLOTS, tildify, type SitePaths } from '../site/paths.js';
import { loadBackend } from '../service/index.js';
import { removeWorktree, deleteBranch, getMirrorHead, isWorktreeOf } from '../os/git.js';
import { getListeners, isInside } from '../os/listeners.js';
import { OpsError } from '../errors.js';
import { acquireLock } from '../os/lock.js';
import { pollUntil } from '../os/poll.js';

/** The site's own processes on its port: the agent (which runs in the site folder) or a dev server in it. */
async function isPortHeldBySite(port: number, paths: SitePaths): Promise<boolean> {
  return (await getListeners(port)).some(
    (l) => l.cwd !== null && isInside(l.cwd.replace(/ \(deleted\)$/, ''), paths.dir),
  );
}

const LEGACY_BRANCH = 'localhost-sync';

export async function uninstallCommand(argv: { name?: string; purge?: boolean }): Promise<number> {
  const site = resolveSite(argv.name);
  const { config, paths } = site;
  const backend = await loadBackend(config.service);
  // Wait out a running sync, so it cannot restart the server once the jobs are gone.
  const lock = await acquireLock(paths.lock);
  try {
    await backend.remove(site);
  } finally {
    lock.release();
  }
  const released = await pollUntil(async () => !(await isPortHeldBySite(config.port, paths)), 15_000, 100);
  if (!released) {
    throw new OpsError(
      `The jobs are removed, but a process from the site folder still holds port ${config.port}.`,
      `Find it with lsof -i :${config.port} and stop it.`,
    );
  }
  const lines = [`Removed the jobs of "${site.name}"; port ${config.port} is free.`];
  if (argv.purge) {
    if (isInside(config.repo, paths.dir)) {
      throw new OpsError(
        `The repository ${tildify(config.repo)} lies inside ${tildify(paths.dir)}, so --purge will not delete that folder.`,
        `Remove ${tildify(paths.slotsDir)} by hand if you want it gone.`,
      );
    }
    if (existsSync(config.repo)) {
      for (const slot of SLOTS) await removeWorktree(config.repo, paths.slots[slot]);
      if (isWorktreeOf(paths.worktree, config.repo)) {
        // A first release's worktree that no sync migrated yet; its branch only if it was that worktree's.
        const branch = (await getMirrorHead(paths.worktree)).branchRef;
        await removeWorktree(config.repo, paths.worktree);
        if (branch === `refs/heads/${LEGACY_BRANCH}`) await deleteBranch(config.repo, LEGACY_BRANCH);
      }
    } else {
      lines.push(`The repository ${tildify(config.repo)} is gone, so only the site folder was removed.`);
    }
    rmSync(paths.dir, { recursive: true, force: true });
    lines.push(`Removed both slots and ${tildify(paths.dir)}.`);
  } else {
    writeSiteConfig({ ...config, uninstalled: true });
    lines.push(`Kept ${tildify(paths.dir)}; uninstall --purge removes it, install brings the site back.`);
  }
  process.stdout.write(lines.join('\n') + '\n');
  return 0;
}
