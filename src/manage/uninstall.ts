/**
 * `uninstall`: stop and remove both jobs and free the port. --purge also removes the
 * worktree, its branch and the site's folder. The canonical repo's own work is untouched.
 */
import { existsSync, rmSync } from 'node:fs';
import { resolveSite, writeSiteConfig } from '../site/store.js';
import { loadBackend } from '../service/index.js';
import { removeWorktree, deleteSyncBranch } from '../os/git.js';
import { getListeners, isInside } from '../os/listeners.js';
import { isSiteServer } from '../run/health.js';
import { OpsError } from '../errors.js';
import { acquireLock } from '../os/lock.js';
import { sleep } from '../os/exec.js';
import { tildify } from '../site/paths.js';

async function waitForPortReleased(port: number, worktree: string, timeoutMs = 15_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ours = (await getListeners(port)).filter((l) => isSiteServer(l, worktree));
    if (ours.length === 0) return true;
    if (Date.now() > deadline) return false;
    await sleep(100);
  }
}

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
  if (!(await waitForPortReleased(config.port, paths.worktree))) {
    throw new OpsError(
      `The jobs are removed, but a server from the mirror still holds port ${config.port}.`,
      `Find it with lsof -i :${config.port} and stop it.`,
    );
  }
  const lines = [`Removed the jobs of "${site.name}"; port ${config.port} is free.`];
  if (argv.purge) {
    if (isInside(config.repo, paths.dir)) {
      throw new OpsError(
        `The repository ${tildify(config.repo)} lies inside ${tildify(paths.dir)}, so --purge will not delete that folder.`,
        `Remove ${tildify(paths.worktree)} by hand if you want it gone.`,
      );
    }
    if (existsSync(config.repo)) {
      await removeWorktree(config.repo, paths.worktree);
      await deleteSyncBranch(config.repo);
    } else {
      lines.push(`The repository ${tildify(config.repo)} is gone, so only the site folder was removed.`);
    }
    rmSync(paths.dir, { recursive: true, force: true });
    lines.push(`Removed the mirror, the localhost-sync branch and ${tildify(paths.dir)}.`);
  } else {
    writeSiteConfig({ ...config, uninstalled: true });
    lines.push(`Kept ${tildify(paths.dir)}; uninstall --purge removes it, install brings the site back.`);
  }
  process.stdout.write(lines.join('\n') + '\n');
  return 0;
}
