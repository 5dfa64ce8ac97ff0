/**
 * Steps 7–10 in the standby slot: checkout, submodules, dependencies, then the server
 * started and health-gated by the agent. The live slot is never touched here.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Site } from '../site/config.js';
import type { Slot } from '../site/paths.js';
import { short } from '../site/last-sync.js';
import * as git from '../os/git.js';
import { getFileId, readTextOrNull } from '../os/fs.js';
import { NetworkError, describeError, describeWithFix } from '../errors.js';
import {
  getLockHashOf,
  readLockfile,
  readDepsStamp,
  writeDepsStamp,
  isMirrorDepsCurrent,
  installDeps,
} from '../runtime/deps.js';
import { getNodeKey } from '../runtime/pinned-node.js';
import type { NodeInstall } from '../runtime/choose.js';
import { startSlot, stopSlot } from '../run/control-client.js';
import type { Blame } from '../run/protocol.js';

const SUBMODULE_TIMEOUT_MS = 5 * 60_000;

export interface PrepareContext {
  site: Site;
  log: (step: string, message: string) => void;
  /** Told npm ci's process group while it runs, so a killed sync's npm can be ended. */
  onChild: (pgid: number | null) => void;
}

export interface PrepareResult {
  ok: boolean;
  reason: string;
  blame: Blame | null;
  depsInstalled: boolean;
}

type Stage = 'stop' | 'checkout' | 'submodules' | 'dependencies' | 'start';

/** Whose fault a thrown step is: git and the agent are the machine's; submodules and npm the commit's. */
const STAGE_BLAME: Record<Stage, Blame> = {
  stop: 'environment',
  checkout: 'environment',
  submodules: 'commit',
  dependencies: 'commit',
  start: 'environment',
};

export async function prepareStandby(
  ctx: PrepareContext,
  slot: Slot,
  target: string,
  node: NodeInstall,
): Promise<PrepareResult> {
  const { site, log } = ctx;
  const dir = site.paths.slots[slot];
  let depsInstalled = false;
  let stage: Stage = 'stop';
  try {
    await stopSlot(site, slot);
    stage = 'checkout';
    await git.checkoutDetached(dir, target);
    await git.cleanUntracked(dir);
    log('checkout', `slot ${slot} at ${short(target)} (checkout --detach, clean -fd)`);
    if (existsSync(join(dir, '.gitmodules'))) {
      stage = 'submodules';
      await git.updateSubmodules(dir, SUBMODULE_TIMEOUT_MS);
      log('submodules', 'updated');
    }
    stage = 'dependencies';
    depsInstalled = await ensureDeps(ctx, dir, node);
    stage = 'start';
    log('start', `slot ${slot} through the server agent`);
    const gate = await startSlot(site, slot, target);
    log('health', gate.ok ? `ok: ${gate.reason}` : `failed: ${gate.reason}`);
    if (gate.ok) return { ok: true, reason: gate.reason, blame: null, depsInstalled };
    return { ok: false, reason: `health gate: ${gate.reason}`, blame: gate.blame ?? 'commit', depsInstalled };
  } catch (err) {
    log(stage, `failed: ${describeError(err)}`);
    // An unreachable registry is the network's fault, retried next sync: the live slot is untouched.
    const blame = err instanceof NetworkError ? 'environment' : STAGE_BLAME[stage];
    return { ok: false, reason: `${stage}: ${describeWithFix(err)}`, blame, depsInstalled };
  }
}

/** Step 8: npm ci when the slot's node_modules is missing or from another lockfile or Node. */
async function ensureDeps(ctx: PrepareContext, dir: string, node: NodeInstall): Promise<boolean> {
  const { site, log } = ctx;
  const pkg = readTextOrNull(join(dir, 'package.json'));
  if (pkg === null) {
    log('deps', 'skipped: no package.json');
    return false;
  }
  const stamp = readDepsStamp(dir);
  let installed = false;
  if (isMirrorDepsCurrent(dir, stamp, node)) {
    log('deps', `skipped: lockfile and Node ${node.version} unchanged`);
  } else {
    log('deps', `npm ci under Node ${node.version} (${node.bin})`);
    const started = Date.now();
    try {
      await installDeps(dir, node, site.paths.syncLog, (pgid) => ctx.onChild(pgid));
    } finally {
      ctx.onChild(null);
    }
    installed = true;
    log('deps', `installed in ${Date.now() - started} ms`);
  }
  // Written even when skipped, so the Node choice is remembered for the next no-op.
  const lockHash = getLockHashOf(readLockfile(dir));
  writeDepsStamp(dir, {
    lockHash: lockHash ?? '',
    nodeBin: node.bin,
    nodeId: getFileId(node.bin),
    nodeVersion: node.version,
    npmVersion: node.npmVersion,
    nodeKey: getNodeKey(site.config, pkg),
  });
  return installed;
}
