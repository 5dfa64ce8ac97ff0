/**
 * `uninstall`: stop and remove both jobs, end whatever still runs in the slots, and free the
 * port. --purge also removes the slots (`git worktree remove`), a first release's worktree
 * and branch, and the site's folder. The canonical repo's own work is untouched.
 */
import { existsSync, rmSync } from 'node:fs';
import { readConfigLoosely, readSiteConfig, resolveSiteName, writeSiteConfig } from '../site/store.js';
import { parseInstallFlags, type ServiceKind, type Site } from '../site/config.js';
import { SLOTS, getSitePaths, tildify, type SitePaths } from '../site/paths.js';
import { loadBackend } from '../service/index.js';
import { removeWorktree, deleteBranch, getMirrorHead, isWorktreeOf } from '../os/git.js';
import { getListeners, getOwnAncestors, getProcessesIn, isInside, type ProcessInfo } from '../os/listeners.js';
import { isAlive, killQuietly } from '../os/exec.js';
import { ConfigError, OpsError, UserError } from '../errors.js';
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
  const name = resolveSiteName(argv.name);
  let site: Site;
  try {
    site = { name, config: readSiteConfig(name), paths: getSitePaths(name) };
  } catch (err) {
    // A broken config.json must not keep the jobs running: stop them with what can be read of it.
    if (err instanceof ConfigError) return uninstallBroken(name, err, argv.purge === true);
    throw err;
  }
  const { config, paths } = site;
  const backend = await loadBackend(config.service);
  // Wait out a running sync, so it cannot restart the server once the jobs are gone.
  const lock = await acquireLock(paths.lock);
  try {
    await backend.remove(site);
  } finally {
    lock.release();
  }
  const ended = await endLeftovers(paths);
  await verifyPortReleased(config.port, paths);
  const lines = [`Removed the jobs of "${site.name}"; port ${config.port} is free.`, ...ended];
  if (argv.purge) {
    lines.push(...(await purgeSite(config.repo, paths)));
  } else {
    writeSiteConfig({ ...config, uninstalled: true });
    lines.push(`Kept ${tildify(paths.dir)}; uninstall --purge removes it, install brings the site back.`);
  }
  process.stdout.write(lines.join('\n') + '\n');
  return 0;
}

/** How long a leftover gets to end on SIGTERM before SIGKILL. */
const LEFTOVER_GRACE_MS = 5000;

/**
 * Ends every process still running in the slots once the jobs are gone (DESIGN §3): a
 * dev server's worker that made a process group of its own outlives the agent's stop of
 * the server's group, and may hold a port. Never this command or the shell that ran it.
 * Returns the line that says which it ended (none when nothing was left).
 */
async function endLeftovers(paths: SitePaths): Promise<string[]> {
  const own = getOwnAncestors();
  const left = (await getProcessesIn(paths.slotsDir)).filter((p) => !own.has(p.pid));
  if (left.length === 0) return [];
  for (const p of left) killQuietly(p.pid, 'SIGTERM');
  const gone = await pollUntil(() => left.every((p) => !isAlive(p.pid)), LEFTOVER_GRACE_MS, 100);
  if (!gone) for (const p of left) killQuietly(p.pid, 'SIGKILL');
  const describe = (p: ProcessInfo) => `pid ${p.pid}${p.command ? ` (${p.command.slice(0, 80)})` : ''}`;
  const n = left.length;
  return [`Ended ${n} process${n > 1 ? 'es' : ''} left running in the slots: ${left.map(describe).join(', ')}.`];
}

/** The site's own processes let go of its port, or the jobs' removal did not end them. */
async function verifyPortReleased(port: number, paths: SitePaths): Promise<void> {
  const released = await pollUntil(async () => !(await isPortHeldBySite(port, paths)), 15_000, 100);
  if (!released) {
    throw new OpsError(
      `The jobs are removed, but a process from the site folder still holds port ${port}.`,
      `Find it with lsof -i :${port} and stop it.`,
    );
  }
}

/**
 * --purge: both slots (`git worktree remove`), a first release's worktree and its branch,
 * then the site folder. `repo` null: unknown (a broken config), so only the folder goes.
 */
async function purgeSite(repo: string | null, paths: SitePaths): Promise<string[]> {
  const lines: string[] = [];
  if (repo !== null && isInside(repo, paths.dir)) {
    throw new OpsError(
      `The repository ${tildify(repo)} lies inside ${tildify(paths.dir)}, so --purge will not delete that folder.`,
      `Remove ${tildify(paths.slotsDir)} by hand if you want it gone.`,
    );
  }
  if (repo !== null && existsSync(repo)) {
    for (const slot of SLOTS) await removeWorktree(repo, paths.slots[slot]);
    if (isWorktreeOf(paths.worktree, repo)) {
      // A first release's worktree that no sync migrated yet; its branch only if it was that worktree's.
      const branch = (await getMirrorHead(paths.worktree)).branchRef;
      await removeWorktree(repo, paths.worktree);
      if (branch === `refs/heads/${LEGACY_BRANCH}`) await deleteBranch(repo, LEGACY_BRANCH);
    }
  } else if (repo !== null) {
    lines.push(`The repository ${tildify(repo)} is gone, so only the site folder was removed.`);
  } else {
    lines.push('The repository is unknown, so its worktree records of the slots stay until git worktree prune.');
  }
  rmSync(paths.dir, { recursive: true, force: true });
  lines.push(`Removed both slots and ${tildify(paths.dir)}.`);
  return lines;
}

/**
 * uninstall with a config.json that fails its checks (DESIGN §3): the jobs are stopped all
 * the same. The backend is the config's own when that field reads right; otherwise every
 * backend that holds a job definition for the site removes its jobs. The config stays as
 * it is (without --purge), so the command still ends in the sentence that names it.
 */
async function uninstallBroken(name: string, broken: ConfigError, purge: boolean): Promise<number> {
  const paths = getSitePaths(name);
  const loose = readConfigLoosely(name);
  // A stand-in config of install's defaults: remove() and getDefinitionPath() need only the name and folders.
  const site = (kind: ServiceKind): Site => ({
    name,
    paths,
    config: parseInstallFlags({ repo: loose.repo ?? paths.dir, name, service: kind }),
  });
  let kinds: ServiceKind[] = loose.service ? [loose.service] : [];
  if (!loose.service) {
    for (const kind of ['launchd', 'systemd', 'process'] as const) {
      const backend = await loadBackend(kind);
      const defined = (['sync', 'server'] as const).some((job) =>
        existsSync(backend.getDefinitionPath(site(kind), job)),
      );
      // The process backend's remove only ends what its pid files name: harmless when it ran nothing.
      if (defined || kind === 'process') kinds.push(kind);
    }
  }
  kinds = [...new Set(kinds)];
  const lock = await acquireLock(paths.lock);
  try {
    for (const kind of kinds) await (await loadBackend(kind)).remove(site(kind));
  } finally {
    lock.release();
  }
  const ended = await endLeftovers(paths);
  if (loose.port !== null) await verifyPortReleased(loose.port, paths);
  const stopped = `The jobs of "${name}" are stopped and removed (${kinds.join(', ')} backend${kinds.length > 1 ? 's' : ''})`;
  if (purge) {
    const lines = [`${stopped}; ${broken.message}`, ...ended];
    lines.push(...(await purgeSite(loose.repo, paths)));
    process.stdout.write(lines.join('\n') + '\n');
    return 0;
  }
  throw new UserError(
    `${broken.message} ${stopped}, and the site folder is kept as it is.${ended.length ? ` ${ended.join(' ')}` : ''}`,
    `Fix or delete ${tildify(broken.file)}, or remove the site with localhost-ops uninstall --name ${name} --purge.`,
  );
}
