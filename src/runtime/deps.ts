/**
 * Dependencies of the mirror. A stamp inside node_modules records which lockfile and which
 * Node the last `npm ci` used, so a no-op sync decides "current" from two file reads.
 * The stamp lives in node_modules on purpose: deleting node_modules deletes the stamp.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { readJsonOrNull, writeFileAtomic } from '../os/fs.js';
import { run } from '../os/exec.js';
import { NetworkError } from '../errors.js';
import type { NodeInstall } from './choose.js';

export interface DepsStamp {
  lockHash: string;
  nodeBin: string;
  /** The Node binary's identity (inode and mtime, through symlinks): an upgrade in place changes it. */
  nodeId: string;
  nodeVersion: string;
  npmVersion: string | null;
  /** What the Node was resolved from: engines and pins. Same key → same Node, no search. */
  nodeKey: string;
}

const STAMP = '.localhost-ops-deps.json';
const LOCKFILES = ['npm-shrinkwrap.json', 'package-lock.json'];

export function getLockHashOf(text: string | null): string | null {
  return text === null ? null : createHash('sha256').update(text).digest('hex').slice(0, 32);
}

export function readLockfile(worktree: string): string | null {
  for (const name of LOCKFILES) {
    try {
      return readFileSync(join(worktree, name), 'utf8');
    } catch {
      // try the next
    }
  }
  return null;
}

export function readDepsStamp(worktree: string): DepsStamp | null {
  return readJsonOrNull<DepsStamp>(join(worktree, 'node_modules', STAMP));
}

export function writeDepsStamp(worktree: string, stamp: DepsStamp): void {
  writeFileAtomic(join(worktree, 'node_modules', STAMP), JSON.stringify(stamp) + '\n');
}

export function getMajor(version: string): number {
  return Number(version.replace(/^v/, '').split('.')[0]);
}

/** Pure: is what is installed still right for this lockfile and Node? */
export function isDepsCurrent(stamp: DepsStamp | null, lockHash: string | null, node: NodeInstall): boolean {
  if (!stamp || lockHash === null) return false;
  return stamp.lockHash === lockHash && getMajor(stamp.nodeVersion) === getMajor(node.version);
}

export function hasPackageJson(worktree: string): boolean {
  return existsSync(join(worktree, 'package.json'));
}

/** The mirror's dependencies are right for this Node: nothing to install, or installed from its lockfile. */
export function isMirrorDepsCurrent(worktree: string, stamp: DepsStamp | null, node: NodeInstall): boolean {
  if (!hasPackageJson(worktree)) return true;
  return isDepsCurrent(stamp, getLockHashOf(readLockfile(worktree)), node);
}

/** PATH with the pinned Node's bin folder first, so npm and its scripts run under it. */
export function getPinnedPath(node: NodeInstall, basePath = process.env.PATH ?? ''): string {
  return [node.binDir, ...basePath.split(':').filter((p) => p && p !== node.binDir)].join(':');
}

export function getNpmCommand(node: NodeInstall): string {
  const beside = join(node.binDir, 'npm');
  return existsSync(beside) ? beside : 'npm';
}

const NPM_NETWORK_RE =
  /npm (?:ERR!|error) code (ENOTFOUND|ETIMEDOUT|EAI_AGAIN|ECONNRESET|ECONNREFUSED|EHOSTUNREACH|ENETUNREACH|ENETDOWN|ERR_SOCKET_TIMEOUT)\b/;

/** Pure: the network error code in npm's output, when npm failed for want of the registry. */
export function getNpmNetworkCode(output: string): string | null {
  return NPM_NETWORK_RE.exec(output)?.[1] ?? null;
}

function readFrom(file: string, offset: number): string {
  try {
    return readFileSync(file, 'utf8').slice(offset);
  } catch {
    return '';
  }
}

function getSize(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
}

/**
 * `npm ci` under the pinned Node, in a standby slot, its output appended to the sync log.
 * A failure leaves no node_modules behind, so the slot counts as not installed and the next
 * prepare installs again; the live slot's own node_modules are never touched.
 */
export async function installDeps(
  worktree: string,
  node: NodeInstall,
  logFile: string,
  onStart?: (pgid: number) => void,
  timeoutMs = 15 * 60_000,
): Promise<void> {
  const modules = join(worktree, 'node_modules');
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PATH: getPinnedPath(node),
    npm_config_fund: 'false',
    npm_config_audit: 'false',
    npm_config_update_notifier: 'false',
  };
  const offset = getSize(logFile);
  try {
    await run(getNpmCommand(node), ['ci', '--no-audit', '--no-fund'], {
      cwd: worktree,
      env,
      logFile,
      timeoutMs,
      group: true,
      onStart,
    });
  } catch (err) {
    rmSync(modules, { recursive: true, force: true });
    const code = getNpmNetworkCode(readFrom(logFile, offset));
    if (code) throw new NetworkError(`npm ci could not reach the registry (${code})`, code);
    throw err;
  }
}
