/** Everything install checks before it writes anything. Each failure is a UserError (exit 2). */
import { statSync, accessSync, constants, realpathSync } from 'node:fs';
import { resolve } from 'node:path';
import { GitError, UserError } from '../errors.js';
import { type SiteConfig } from '../site/config.js';
import { listSiteNames, readSiteConfig } from '../site/store.js';
import * as git from '../os/git.js';
import { getHome, getSitePaths, getToolEntry, tildify } from '../site/paths.js';
import { findProtectedPath, getJobPlatform } from '../service/privacy.js';
import { getListeners, isInside, isPortFree } from '../os/listeners.js';
import { describeListener, isSiteProcess } from '../run/health.js';
import { findOnPath } from '../os/fs.js';
import { getNodeFor } from '../runtime/pinned-node.js';
import { askNodeVersion, getPinnedBinary, type NodeInstall } from '../runtime/choose.js';
import type { SystemdProbe } from '../service/index.js';

/** Checks the repo; returns its real path (git reports real paths, and a symlink must not confuse us). */
export async function verifyRepo(config: SiteConfig): Promise<string> {
  const repo = config.repo;
  let isDir = false;
  try {
    isDir = statSync(repo).isDirectory();
  } catch {
    // missing
  }
  if (!isDir)
    throw new UserError(
      `There is no folder at ${tildify(repo)}.`,
      'Pass --repo with the path of your clone of the site.',
    );
  const top = await git.getRepoTop(repo);
  if (top === null)
    throw new UserError(
      `${tildify(repo)} is not a git repository.`,
      'Pass --repo with the path of a git clone of the site.',
    );
  if (realpathSync(top) !== realpathSync(repo)) {
    throw new UserError(
      `${tildify(repo)} is inside the repository ${tildify(top)}, not its top folder.`,
      `Pass --repo ${tildify(top)}.`,
    );
  }
  if (git.getWorktreeGitDir(repo) !== null) {
    throw new UserError(
      `${tildify(repo)} is a linked worktree, not the main clone.`,
      'Pass --repo with the path of your main clone.',
    );
  }
  if (!(await git.hasRemote(repo, config.remote))) {
    throw new UserError(
      `${tildify(repo)} has no remote named "${config.remote}".`,
      `Pass --remote with one of its remotes (git -C ${tildify(repo)} remote -v).`,
    );
  }
  return realpathSync(repo);
}

/** Fetches the branch; a branch the remote lacks is bad input, an unreachable forge is not. */
export async function verifyBranch(config: SiteConfig): Promise<void> {
  try {
    await git.fetchBranch(config.repo, config.remote, config.branch);
  } catch (err) {
    if (err instanceof GitError && err.kind === 'no-such-ref') {
      throw new UserError(
        `The remote "${config.remote}" has no branch "${config.branch}".`,
        `Pass --branch with a branch that exists on ${config.remote}.`,
      );
    }
    throw err;
  }
}

/** The Node main's engines pin, found now; none → an error with the range and how to install one. */
export async function resolveMainNode(config: SiteConfig): Promise<NodeInstall> {
  const pkg = await git.showFile(config.repo, `refs/remotes/${config.remote}/${config.branch}`, 'package.json');
  return (await getNodeFor(config, pkg, null)).node;
}

export function verifyPaths(config: SiteConfig): void {
  const paths = getSitePaths(config.name);
  // The realpaths count: a symlinked HOME or LOCALHOST_OPS_HOME must not slip through. The
  // canonical repo is not checked: it may live there (doctor says what the jobs need).
  const found = findProtectedPath(
    [
      ['site folder', paths.dir],
      ['slots folder', paths.slotsDir],
      ['tool', getToolEntry()],
    ],
    getHome(),
    getJobPlatform(config.service),
  );
  if (found) {
    const { what, path, real, place } = found;
    const where =
      place.kind === 'external-volume' ? `on the external volume ${place.folder}` : `in ${tildify(place.folder)}`;
    throw new UserError(
      `The ${what} ${tildify(path)}${real ? ` (really ${tildify(real)})` : ''} is ${where}, where macOS keeps launchd's jobs out: they would fail with "Operation not permitted" (EPERM).`,
      what === 'tool'
        ? 'Install localhost-ops outside ~/Documents, ~/Desktop, ~/Downloads, iCloud Drive and /Volumes (npm install -g puts it in a safe place).'
        : 'Set LOCALHOST_OPS_HOME to a folder outside ~/Documents, ~/Desktop, ~/Downloads, iCloud Drive and /Volumes (the default ~/ops-local is fine); your repository may stay where it is.',
    );
  }
  // Either way round is refused: uninstall --purge deletes the site folder.
  if (isInside(paths.dir, config.repo) || isInside(config.repo, paths.dir)) {
    throw new UserError(
      `The site folder ${tildify(paths.dir)} and the repository ${tildify(config.repo)} overlap.`,
      'Set LOCALHOST_OPS_HOME to a folder apart from the repository, or pass another --name.',
    );
  }
}

/** `--node` names a binary that answers `--version` with a Node version (DESIGN §3), not merely an executable. */
export async function verifyNodePin(config: SiteConfig): Promise<void> {
  if (!config.node) return;
  const fix = 'Pass --node with the path of a node binary, or leave it out.';
  const bin = getPinnedBinary(config.node);
  try {
    accessSync(bin, constants.X_OK);
  } catch {
    throw new UserError(`--node ${tildify(config.node)} is not an executable file.`, fix);
  }
  const { install, answer } = await askNodeVersion(bin, '--node');
  if (!install) {
    throw new UserError(
      `--node ${tildify(config.node)} did not answer --version with a Node version (${answer ? `it said "${answer}"` : 'it said nothing'}).`,
      fix,
    );
  }
}

/** `systemd`: install's probe (probeSystemdUser); when given, --service systemd needs it to have answered. */
export function verifyService(config: SiteConfig, systemd: SystemdProbe | null = null): void {
  if (config.service === 'systemd' && systemd && !systemd.available) {
    throw new UserError(
      `--service systemd needs a systemd user manager, and ${systemd.problem}.`,
      `${systemd.fix} Or pass --service process.`,
    );
  }
  if (config.service === 'launchd' && !findOnPath('launchctl')) {
    throw new UserError(
      '--service launchd needs launchctl, which is not on PATH.',
      'Run install on macOS, or pass --service process.',
    );
  }
}

/** The port is free, or held by this very site's server (a re-install). */
export async function verifyPort(config: SiteConfig): Promise<void> {
  for (const other of listSiteNames()) {
    if (other === config.name) continue;
    let theirs: SiteConfig;
    try {
      theirs = readSiteConfig(other);
    } catch {
      continue;
    }
    if (theirs.port === config.port) {
      throw new UserError(
        `Port ${config.port} is already used by the installed site "${other}".`,
        `Pass another --port, or uninstall "${other}" first.`,
      );
    }
  }
  let free: boolean;
  try {
    free = await isPortFree(config.host, config.port);
  } catch (err) {
    throw new UserError(
      `Cannot listen on ${config.host}:${config.port} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}).`,
      'Pass a --host this machine has and a --port above 1023.',
    );
  }
  if (free) return;
  const siteDir = getSitePaths(config.name).dir;
  const listeners = await getListeners(config.port);
  if (listeners.length > 0 && listeners.every((l) => isSiteProcess(l, siteDir))) return;
  const holder = listeners.find((l) => !isSiteProcess(l, siteDir));
  throw new UserError(
    `Port ${config.port} is held by another program${holder ? `: ${describeListener(holder)}` : ''}.`,
    `Stop that program, or pass another --port.`,
  );
}

/** A name already installed for another repository is a clash, not a re-install. */
export function verifyNameFree(config: SiteConfig): void {
  if (!listSiteNames().includes(config.name)) return;
  let existing: SiteConfig;
  try {
    existing = readSiteConfig(config.name);
  } catch {
    return; // a corrupt config is rewritten by this install
  }
  if (resolve(existing.repo) !== resolve(config.repo)) {
    throw new UserError(
      `A site named "${config.name}" is already installed for ${tildify(existing.repo)}.`,
      'Pass another --name, or uninstall that site first.',
    );
  }
}
