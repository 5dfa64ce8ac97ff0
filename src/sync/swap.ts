/**
 * The live dev server restarted through a swap (DESIGN §1 `restart`): the standby slot is
 * prepared at the live slot's own commit by the sync's steps 7–10 (checkout, npm ci when
 * needed, start and gate), then the agent switches to it and the old server drains and
 * stops. No request fails, and a server that will not start leaves the live one serving.
 * Under the sync lock, so no sync runs meanwhile.
 */
import { join } from 'node:path';
import type { Site } from '../site/config.js';
import { getOtherSlot, type Slot } from '../site/paths.js';
import { short } from '../site/last-sync.js';
import * as git from '../os/git.js';
import { acquireLock, type Lock } from '../os/lock.js';
import { appendLogLine } from '../os/log.js';
import { readTextOrNull } from '../os/fs.js';
import { describeWithFix } from '../errors.js';
import { readDepsStamp } from '../runtime/deps.js';
import { getNodeFor } from '../runtime/pinned-node.js';
import { switchToSlot } from '../run/control-client.js';
import { getSettledStatus } from './server-agent.js';
import { prepareStandby } from './prepare.js';

export interface SwapResult {
  ok: boolean;
  /** What happened, or what failed. */
  reason: string;
  /** The slot live at the end (the new one on success, the old one otherwise). */
  live: Slot | null;
  sha: string | null;
}

export interface SwapOptions {
  /** Each step, for a person watching; sync.log gets every step regardless. */
  progress?: (message: string) => void;
  /** Told when the lock is ours (a wait for another sync has ended). */
  onLocked?: () => void;
  /** install already holds the lock. */
  lock?: Lock;
}

export async function restartThroughSwap(site: Site, opts: SwapOptions = {}): Promise<SwapResult> {
  const { paths } = site;
  const log = (step: string, message: string) => {
    appendLogLine(paths.syncLog, `[${process.pid}] restart ${step}: ${message}`);
    opts.progress?.(`${step}: ${message}`);
  };
  const lock = opts.lock ?? (await acquireLock(paths.lock));
  opts.onLocked?.();
  try {
    log('lock', lock.waitedMs > 200 ? `waited ${lock.waitedMs} ms for another sync` : 'acquired');
    const status = await getSettledStatus(site, log);
    const live = status.live;
    if (!live) {
      return { ok: false, reason: 'no slot is live yet, so there is no server to restart', live: null, sha: null };
    }
    const liveDir = paths.slots[live];
    const sha = (await git.getMirrorHead(liveDir)).head ?? status.slots[live].sha;
    if (!sha) return { ok: false, reason: `slot ${live} has no commit checked out`, live, sha: null };
    const standby = getOtherSlot(live);
    log('plan', `prepare slot ${standby} at the live ${short(sha)}, then switch from slot ${live}`);
    let node;
    try {
      const pkg = readTextOrNull(join(liveDir, 'package.json'));
      node = (await getNodeFor(site.config, pkg, readDepsStamp(liveDir))).node;
    } catch (err) {
      return { ok: false, reason: describeWithFix(err), live, sha };
    }
    const ctx = { site, log, onChild: (pgid: number | null) => lock.noteChild(pgid) };
    const result = await prepareStandby(ctx, standby, sha, node);
    if (!result.ok) return { ok: false, reason: result.reason, live, sha };
    const switched = await switchToSlot(site, standby);
    if (!switched.ok) return { ok: false, reason: `switch: ${switched.reason}`, live, sha };
    log('switch', `slot ${standby} is live at ${short(sha)}; slot ${live} drains and stops`);
    return { ok: true, reason: `slot ${standby} serves ${short(sha)}`, live: standby, sha };
  } finally {
    if (!opts.lock) lock.release();
  }
}
