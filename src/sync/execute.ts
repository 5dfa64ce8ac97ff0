/**
 * One sync (DESIGN §3), start to finish: gather facts, ask plan.ts, act, record.
 * Never throws for a failed step: every outcome ends in last-sync.env.
 */
import { readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { Site } from '../site/config.js';
import * as git from '../os/git.js';
import { acquireLock, type Lock } from '../os/lock.js';
import { appendLogLine, rotateIfLarge } from '../os/log.js';
import { ensureDir, readTextOrNull, removeOldTempFiles } from '../os/fs.js';
import { describeError, describeWithFix, oneLine } from '../errors.js';
import { readSyncRecord, writeSyncRecord, formatLocalTime, short, type SyncRecord } from '../site/last-sync.js';
import { readDepsStamp, isMirrorDepsCurrent } from '../runtime/deps.js';
import { getNodeFor } from '../runtime/pinned-node.js';
import { switchToSlot } from '../run/control-client.js';
import { isLiveHealthy } from '../run/protocol.js';
import { installCommand, syncCommand } from '../site/fix-commands.js';
import { getSlotFacts, readLinkState, readSlotHead, repairLink, repairSlots, migrateLegacy } from './slots.js';
import { getSettledStatus } from './server-agent.js';
import type { Slot } from '../site/paths.js';
import type { NodeInstall } from '../runtime/choose.js';
import {
  getCreateAt,
  isKnownBad,
  planHold,
  planOutcome,
  planRepair,
  planUpdate,
  pickStandby,
  type Outcome,
  type OutcomeFacts,
} from './plan.js';

export interface SyncOptions {
  force: boolean;
  /** install already holds the lock. */
  lock?: Lock;
  /** Progress for a person watching (stderr, TTY only); the log gets every step regardless. */
  progress?: (message: string) => void;
  /**
   * Called when the status differs from the last sync's. The commands pass doctor's
   * diagnosis writer (and notifications) in: the sync itself never imports doctor/.
   */
  onStatusChange?: StatusChangeHook;
  /** Told the process group of an npm ci in flight (null once it ended): the agent's stop ends it. */
  onChild?: (pgid: number | null) => void;
  /** True once the sync agent was told to stop: what fails after that is not the commit's fault. */
  isStopping?: () => boolean;
}

export type StatusChangeHook = (site: Site, rec: SyncRecord, prev: SyncRecord | null) => Promise<void>;

const FETCH_TIMEOUT_MS = 30_000;

function rotateLogs(logs: string): void {
  let names: string[];
  try {
    names = readdirSync(logs);
  } catch {
    return;
  }
  for (const name of names) if (name.endsWith('.log')) rotateIfLarge(join(logs, name));
}

export async function performSync(site: Site, opts: SyncOptions): Promise<SyncRecord> {
  const started = Date.now();
  const { paths } = site;
  ensureDir(paths.logs);
  const log = (step: string, message: string) => {
    appendLogLine(paths.syncLog, `[${process.pid}] ${step}: ${message}`);
    opts.progress?.(`${step}: ${message}`);
  };
  const lock = opts.lock ?? (await acquireLock(paths.lock));
  // Under the lock: two syncs rotating the same 5 MB log at once would lose lines.
  rotateLogs(paths.logs);
  const leftovers = removeOldTempFiles([paths.dir, paths.runDir]);
  if (!opts.lock) {
    log(
      'lock',
      lock.tookOverFrom
        ? `took over a stale lock from pid ${lock.tookOverFrom}${lock.tookOverReused ? ', a pid another program has now' : ''}`
        : lock.waitedMs > 200
          ? `waited ${lock.waitedMs} ms for another sync`
          : 'acquired',
    );
  }
  if (leftovers.length) {
    const names = leftovers.map((p) => relative(paths.dir, p)).join(', ');
    log(
      'cleanup',
      `removed ${leftovers.length} temp file${leftovers.length > 1 ? 's' : ''} older than an hour: ${names}`,
    );
  }
  const prev = readSyncRecord(paths.lastSync);
  const rec: SyncRecord = {
    at: '',
    status: 'error',
    sha: prev?.sha ?? '',
    targetSha: '',
    goodSha: prev?.goodSha ?? '',
    failedSha: prev?.failedSha ?? '',
    deps: 'skipped',
    durationMs: 0,
    message: '',
  };
  try {
    await syncSteps(site, opts, rec, log, lock);
  } catch (err) {
    rec.status = 'error';
    rec.message = describeWithFix(err);
    log('error', rec.message);
  } finally {
    rec.at = formatLocalTime();
    rec.durationMs = Date.now() - started;
    rec.message = oneLine(rec.message);
    writeSyncRecord(paths.lastSync, rec);
    log(
      'done',
      `${rec.status} sha=${short(rec.sha)} target=${short(rec.targetSha)} deps=${rec.deps} ${rec.durationMs} ms: ${rec.message}`,
    );
    if (rec.status !== prev?.status && opts.onStatusChange) {
      // Only when the status changed: the hook (doctor's diagnosis) is not loaded by a no-op.
      try {
        await opts.onStatusChange(site, rec, prev);
      } catch (err) {
        log('status-change', `failed: ${describeError(err)}`);
      }
    }
    if (!opts.lock) lock.release();
  }
  return rec;
}

type Log = (step: string, message: string) => void;

function apply(rec: SyncRecord, o: Outcome): void {
  rec.status = o.status;
  rec.sha = o.sha;
  rec.goodSha = o.goodSha;
  rec.failedSha = o.failedSha;
  rec.message = o.message;
}

async function syncSteps(site: Site, opts: SyncOptions, rec: SyncRecord, log: Log, lock: Lock): Promise<void> {
  const { config, paths } = site;
  const fixes = { syncForce: syncCommand(config, true), installCommand: installCommand(config) };

  // 2. Fetch. An unreachable forge leaves the slots and the server as they are.
  try {
    await git.fetchBranch(config.repo, config.remote, config.branch, FETCH_TIMEOUT_MS, (n) => {
      if (n === 1) log('fetch', 'another git holds the ref lock in the canonical repo; retrying');
    });
  } catch (err) {
    rec.message = `Could not fetch ${config.remote}/${config.branch} (${describeError(err)}); still serving ${short(rec.sha)}.`;
    log('fetch', `failed: ${describeError(err)}`);
    return;
  }
  // Read from the repo's files: a no-op sync runs every minute, and a spawn costs more CPU than the rest.
  const targetRef = `refs/remotes/${config.remote}/${config.branch}`;
  const target =
    git.readRefFromFiles(join(config.repo, '.git'), targetRef) ?? (await git.getRefSha(config.repo, targetRef));
  if (!target) {
    rec.message = `${config.remote}/${config.branch} is missing after fetching it; still serving ${short(rec.sha)}.`;
    log('fetch', rec.message);
    return;
  }
  rec.targetSha = target;
  log('fetch', `${config.remote}/${config.branch} is ${short(target)}`);

  // 4. Both slots present and sane; the server agent up; the link on the live slot.
  const repairs = planRepair(await getSlotFacts(site));
  for (const line of await repairSlots(site, repairs, getCreateAt(rec.goodSha, target))) log('repair', line);
  const status = await getSettledStatus(site, log);
  const live = status.live;
  const liveDir = live ? paths.slots[live] : null;
  const liveHead = liveDir ? (readSlotHead(liveDir) ?? (await git.getMirrorHead(liveDir)).head) : null;
  if (live && liveHead) {
    const fixed = repairLink(site, live);
    if (fixed) log('repair', fixed);
  }
  rec.sha = liveHead ?? '';
  const healthy = isLiveHealthy(status) && status.liveAnswers !== false;

  // 3. A main that failed before is not retried until it moves (or --force).
  const ctx = {
    site,
    log,
    onChild: (pgid: number | null) => {
      lock.noteChild(pgid);
      opts.onChild?.(pgid);
    },
  };
  if (isKnownBad(target, rec.failedSha, opts.force)) {
    let healed = false;
    if (live && liveHead && liveDir && !healthy) {
      // Healed through a swap to the same commit, so the page never waits for a restart in place.
      log('hold', `main ${short(target)} is known bad; restarting the server on ${short(liveHead)} through a swap`);
      const pkg = readTextOrNull(join(liveDir, 'package.json'));
      const liveNode = await getNodeFor(config, pkg, readDepsStamp(liveDir)).then(
        (n) => n.node,
        () => null,
      );
      healed = liveNode !== null && (await swapTo(ctx, pickStandby(live), liveHead, liveNode)).ok;
    }
    apply(
      rec,
      planHold({
        target,
        served: liveHead ?? '',
        lastGood: rec.goodSha,
        healthy: healthy || healed,
        healed,
        syncForce: fixes.syncForce,
      }),
    );
    log('hold', rec.message);
    return;
  }

  // 5. Preflight: a Node for the target's engines, before any slot is touched.
  const clean = liveDir ? (await git.getDirtyPaths(liveDir)).length === 0 : false;
  const onTarget = liveDir !== null && liveHead === target && clean;
  const pkg = onTarget
    ? readTextOrNull(join(liveDir, 'package.json'))
    : await git.showFile(config.repo, target, 'package.json');
  const stamp = onTarget ? readDepsStamp(liveDir) : null;
  let node;
  try {
    node = (await getNodeFor(config, pkg, stamp)).node;
  } catch (err) {
    rec.message = `main ${short(target)} cannot run here: ${describeWithFix(err)} Still serving ${short(rec.sha)}.`;
    log('preflight', `failed: ${describeError(err)}`);
    return;
  }
  log('preflight', `Node ${node.version} (${node.bin})`);

  // 6. Noop, a restart in place, or a new main prepared in the standby slot.
  const plan = planUpdate({
    live,
    liveHead,
    target,
    clean,
    depsCurrent: onTarget ? isMirrorDepsCurrent(liveDir, stamp, node) : null,
    serverHealthy: healthy,
    serverSha: live ? status.slots[live].sha : null,
  });
  const outcome = (result: OutcomeFacts['result'], served: string) =>
    apply(rec, planOutcome({ target, served, lastGood: rec.goodSha, lastFailed: rec.failedSha, result, fixes }));
  if (plan.kind === 'noop') return outcome({ ok: true, how: 'noop', reason: '' }, target);
  log(
    'plan',
    plan.kind === 'restart-live'
      ? `restart the live server: ${plan.reason}`
      : `prepare slot ${plan.slot}: ${plan.reason}`,
  );

  // 7–10 in the standby slot; 11. switch only once it answers well. An unhealthy live server
  // on the target is restarted the same way: a fresh server in the standby, then the switch.
  const slot = plan.kind === 'prepare' ? plan.slot : pickStandby(live);
  const result = await (await import('./prepare.js')).prepareStandby(ctx, slot, target, node);
  rec.deps = result.depsInstalled ? 'installed' : 'skipped';
  if (!result.ok) {
    // A step ended by our own stop signal (the agent's SIGTERM ends npm ci) says nothing about the commit.
    if (opts.isStopping?.()) {
      return outcome(
        { ok: false, blame: 'environment', reason: `stopped by a signal during ${result.reason}` },
        liveHead ?? '',
      );
    }
    return outcome({ ok: false, blame: result.blame ?? 'commit', reason: result.reason }, liveHead ?? '');
  }
  const switched = await switchToSlot(site, slot);
  if (!switched.ok) {
    return outcome({ ok: false, blame: 'environment', reason: `switch: ${switched.reason}` }, liveHead ?? '');
  }
  log('switch', `slot ${slot} is live`);
  if (readLinkState(site).kind === 'legacy') {
    for (const line of await migrateLegacy(site, slot)) log('migrate', line);
  }
  outcome({ ok: true, how: 'updated', reason: plan.reason }, target);
}

/** A fresh server for `sha` in `slot`, then the switch to it: steps 7–11 for a heal. */
async function swapTo(
  ctx: { site: Site; log: Log; onChild: (pgid: number | null) => void },
  slot: Slot,
  sha: string,
  node: NodeInstall,
): Promise<{ ok: boolean; reason: string }> {
  const result = await (await import('./prepare.js')).prepareStandby(ctx, slot, sha, node);
  if (!result.ok) return result;
  const switched = await switchToSlot(ctx.site, slot);
  if (switched.ok) ctx.log('switch', `slot ${slot} is live`);
  return switched;
}
