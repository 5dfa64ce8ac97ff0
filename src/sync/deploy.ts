/**
 * Steps 7–10 for one commit: align the mirror, install dependencies if needed, restart the
 * server, and pass the health gate. Used for the target, for a rollback and for a heal.
 */
import { join } from 'node:path';
import type { Site } from '../site/config.js';
import * as git from '../os/git.js';
import {
  getLockHashOf,
  readLockfile,
  readDepsStamp,
  writeDepsStamp,
  isMirrorDepsCurrent,
  installDeps,
} from '../runtime/deps.js';
import { getNodeFor, getNodeKey } from '../runtime/pinned-node.js';
import { getHealth, waitForHealthy } from '../run/health.js';
import { getJobSpecs, loadBackend, type JobSpec } from '../service/index.js';
import { describeError } from '../errors.js';
import { getFileId, readTextOrNull } from '../os/fs.js';
import type { NodeInstall } from '../runtime/choose.js';
import { short } from '../site/last-sync.js';

export interface DeployContext {
  site: Site;
  log: (step: string, message: string) => void;
  /** Told npm ci's process group while it runs, so a killed sync's npm can be ended. */
  onChild: (pgid: number | null) => void;
}

export interface DeployResult {
  ok: boolean;
  depsInstalled: boolean;
  reason: string;
  /** 'environment': git, the service manager or another program on the port failed, not the commit. */
  blame: 'commit' | 'environment' | null;
  /** Another program held the port. */
  foreign: boolean;
  /** The server was restarted (or a restart was attempted). */
  restarted: boolean;
}

export interface DeployOptions {
  /** Reset and clean the mirror first (false: it is known to sit on sha, clean). */
  align: boolean;
  /** The Node already preflighted for sha. */
  node?: NodeInstall;
  /**
   * A rollback after a failure that came before any restart: the running server still
   * serves this commit, so when it is healthy it is left alone (no downtime at all).
   */
  keepHealthyServer?: boolean;
}

/**
 * Deploys `sha`. `node` is the Node already preflighted for it, if any. `align` false
 * skips the reset when the mirror is known to sit on sha already, clean.
 */
export async function deploy(ctx: DeployContext, sha: string, opts: DeployOptions): Promise<DeployResult> {
  const { site, log } = ctx;
  const { worktree } = site.paths;
  const preflighted = opts.node;
  let depsInstalled = false;
  let restarted = false;
  let stage = 'align';
  try {
    if (opts.align) {
      await git.resetHard(worktree, sha);
      await git.cleanUntracked(worktree);
      log('align', `reset --hard ${short(sha)} and clean -fd`);
    }
    stage = 'node';
    const stamp = readDepsStamp(worktree);
    const pkg = readTextOrNull(join(worktree, 'package.json'));
    const { node, key } = preflighted
      ? { node: preflighted, key: getNodeKey(site.config, pkg) }
      : await getNodeFor(site.config, pkg, stamp);
    stage = 'dependencies';
    const lockHash = getLockHashOf(readLockfile(worktree));
    if (pkg === null) {
      log('deps', 'skipped: no package.json');
    } else if (isMirrorDepsCurrent(worktree, stamp, node)) {
      log('deps', `skipped: lockfile and Node ${node.version} unchanged`);
    } else {
      log('deps', `npm ci under Node ${node.version} (${node.bin})`);
      const started = Date.now();
      try {
        await installDeps(worktree, node, site.paths.syncLog, (pgid) => ctx.onChild(pgid));
      } finally {
        ctx.onChild(null);
      }
      depsInstalled = true;
      log('deps', `installed in ${Date.now() - started} ms`);
    }
    // Written even when skipped, so the Node choice is remembered for the next no-op.
    if (pkg !== null && (depsInstalled || stamp)) {
      writeDepsStamp(worktree, {
        lockHash: lockHash ?? '',
        nodeBin: node.bin,
        nodeId: getFileId(node.bin),
        nodeVersion: node.version,
        npmVersion: node.npmVersion,
        nodeKey: key,
      });
    }
    if (opts.keepHealthyServer) {
      const health = await getHealth(site.config, worktree);
      if (health.healthy) {
        log('restart', `skipped: the running server still serves ${short(sha)} (${health.reason})`);
        return { ok: true, depsInstalled, reason: health.reason, blame: null, foreign: false, restarted };
      }
    }
    stage = 'restart';
    restarted = true;
    const backend = await loadBackend(site.config.service);
    const serverSpec = getJobSpecs(site).find((spec) => spec.kind === 'server') as JobSpec;
    await backend.restart(site, serverSpec);
    log('restart', `server job restarted (${backend.kind})`);
    stage = 'health';
    const health = await waitForHealthy(site.config, worktree, () => backend.isRunning(site, 'server'));
    log('health', health.healthy ? `ok: ${health.reason}` : `failed: ${health.reason}`);
    if (health.healthy)
      return { ok: true, depsInstalled, reason: health.reason, blame: null, foreign: false, restarted };
    return {
      ok: false,
      depsInstalled,
      reason: `health gate: ${health.reason}`,
      blame: health.foreign ? 'environment' : 'commit',
      foreign: health.foreign,
      restarted,
    };
  } catch (err) {
    const reason = `${stage}: ${describeError(err)}`;
    log(stage, `failed: ${describeError(err)}`);
    // A reset or a restart that fails is git, the disk or the service manager, not the commit.
    const blame = stage === 'align' || stage === 'restart' ? 'environment' : 'commit';
    return { ok: false, depsInstalled, reason, blame, foreign: false, restarted };
  }
}
