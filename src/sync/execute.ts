/**
 * One sync (DESIGN §3), start to finish: gather facts, ask plan.ts, act, record.
 * Never throws for a failed step: every outcome ends in last-sync.env.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Site } from '../site/config.js';
import * as git from '../os/git.js';
import { acquireLock, type Lock } from '../os/lock.js';
import { appendLogLine, rotateIfLarge } from '../os/log.js';
import { ensureDir, readTextOrNull } from '../os/fs.js';
import { describeError, describeWithFix, oneLine } from '../errors.js';
import { readSyncRecord, writeSyncRecord, formatLocalTime, short, type SyncRecord } from '../site/last-sync.js';
import { readDepsStamp, isMirrorDepsCurrent } from '../runtime/deps.js';
import { getNodeFor } from '../runtime/pinned-node.js';
import { getHealth } from '../run/health.js';
import { getMirrorFacts, repairMirror } from './mirror.js';
import type { DeployContext, DeployOptions, DeployResult } from './deploy.js';
import { getRecreateAt, isKnownBad, planFailure, planRepair, planUpdate } from './plan.js';

export interface SyncOptions {
  force: boolean;
  /** install already holds the lock. */
  lock?: Lock;
  /** Progress for a person watching (stderr, TTY only); the log gets every step regardless. */
  progress?: (message: string) => void;
}

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
  if (!opts.lock) {
    log(
      'lock',
      lock.tookOverFrom
        ? `took over a stale lock from pid ${lock.tookOverFrom}`
        : lock.waitedMs > 200
          ? `waited ${lock.waitedMs} ms for another sync`
          : 'acquired',
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
    rec.message = describeError(err);
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
    if (rec.status !== prev?.status) {
      // Only when the status changed, so a no-op sync never loads the doctor module.
      try {
        await (await import('../doctor/index.js')).writeDiagnosis(site);
      } catch (err) {
        log('diagnosis', `failed: ${describeError(err)}`);
      }
    }
    if (!opts.lock) lock.release();
  }
  return rec;
}

async function syncSteps(
  site: Site,
  opts: SyncOptions,
  rec: SyncRecord,
  log: (s: string, m: string) => void,
  lock: Lock,
): Promise<void> {
  const { config, paths } = site;
  const ctx: DeployContext = { site, log, onChild: (pgid) => lock.noteChild(pgid) };

  // 2. Fetch. An unreachable forge leaves the mirror and the server as they are.
  try {
    await git.fetchBranch(config.repo, config.remote, config.branch, FETCH_TIMEOUT_MS, (n) => {
      if (n === 1) log('fetch', 'another git holds the ref lock in the canonical repo; retrying');
    });
  } catch (err) {
    rec.message = `Could not fetch ${config.remote}/${config.branch} (${describeError(err)}); still serving ${short(rec.sha)}.`;
    log('fetch', `failed: ${describeError(err)}`);
    return;
  }

  // 4 (facts first). Mirror state and the fetched target, read together.
  const targetRef = `refs/remotes/${config.remote}/${config.branch}`;
  const mirror = await getMirrorFacts(site, targetRef);
  const { facts, target: fetched } = mirror;
  let head = mirror.head;
  if (!fetched) {
    rec.message = `${config.remote}/${config.branch} is missing after fetching it; still serving ${short(rec.sha)}.`;
    log('fetch', rec.message);
    return;
  }
  const target = fetched;
  rec.targetSha = target;
  log('fetch', `${config.remote}/${config.branch} is ${short(target)}`);

  // 3. A main that failed before is not retried until it moves (or --force).
  const hold = isKnownBad(target, rec.failedSha, opts.force);

  // 4. Mirror present and sane.
  const repairs = planRepair(facts);
  if (repairs.length) {
    for (const line of await repairMirror(site, repairs, getRecreateAt(rec.goodSha, target))) log('repair', line);
    head = (await getMirrorFacts(site, targetRef)).head;
  }
  rec.sha = head.head ?? '';

  if (hold) {
    await holdOnLastGood(ctx, rec, head.head);
    return;
  }

  // 5. Preflight: a Node for the target's engines, before the mirror is touched.
  const dirty = await git.getDirtyPaths(paths.worktree);
  const onTarget = head.head === target && dirty.length === 0;
  const pkg = onTarget
    ? readTextOrNull(join(paths.worktree, 'package.json'))
    : await git.showFile(config.repo, target, 'package.json');
  const stamp = onTarget ? readDepsStamp(paths.worktree) : null;
  let node;
  try {
    node = (await getNodeFor(config, pkg, stamp)).node;
  } catch (err) {
    rec.message = `main ${short(target)} cannot run here: ${describeWithFix(err)} Still serving ${short(rec.sha)}.`;
    log('preflight', `failed: ${describeError(err)}`);
    return;
  }
  log('preflight', `Node ${node.version} (${node.bin})`);

  // 6. Noop? Only probe the server when nothing else forces an update anyway.
  const depsCurrent = onTarget ? isMirrorDepsCurrent(paths.worktree, stamp, node) : null;
  const health = depsCurrent ? await getHealth(config, paths.worktree) : null;
  const plan = planUpdate({
    head: head.head,
    target,
    clean: dirty.length === 0,
    depsCurrent,
    serverHealthy: health ? health.healthy : null,
  });
  if (plan.kind === 'noop') {
    succeed(rec, target, 'noop', `main ${short(target)} is served; nothing to do.`);
    return;
  }
  log('plan', `update: ${plan.reason}`);

  // 7–10. Update; 11. roll back on failure.
  const result = await deploy(ctx, target, { align: plan.align, node });
  rec.deps = result.depsInstalled ? 'installed' : 'skipped';
  if (result.ok) {
    succeed(rec, target, 'updated', `Serving main ${short(target)} (${plan.reason}).`);
    return;
  }
  const failure = planFailure({
    target,
    lastGood: rec.goodSha,
    blame: result.blame ?? 'commit',
    foreign: result.foreign,
  });
  if (failure.markFailed) rec.failedSha = target;
  const retry = failure.markFailed
    ? 'Push a fix to main, or run localhost-ops sync --force to retry.'
    : 'The next sync tries again.';
  if (failure.recovery.kind === 'give-up') {
    rec.sha = (await git.getMirrorHead(paths.worktree)).head ?? '';
    rec.message = result.foreign
      ? `Could not serve main ${short(target)}: ${result.reason}. Stop that program, then run localhost-ops sync.`
      : target === rec.goodSha
        ? `The server on main ${short(target)} did not come back (${result.reason}). ${retry}`
        : `main ${short(target)} failed (${result.reason}) and there is no good commit to fall back on. ${failure.markFailed ? 'The next commit on main will be tried.' : retry}`;
    return;
  }
  const good = failure.recovery.to;
  log('rollback', `to ${short(good)}`);
  // A failure before any restart left the good commit's server running: keep it if healthy.
  const back = await deploy(ctx, good, { align: true, keepHealthyServer: !result.restarted && head.head === good });
  if (back.depsInstalled) rec.deps = 'installed';
  if (back.ok) {
    // rolled-back means a main held back as failed (DESIGN §2); a machine problem is an error.
    rec.status = failure.markFailed ? 'rolled-back' : 'error';
    rec.sha = good;
    rec.message = `main ${short(target)} failed (${result.reason}); rolled back to ${short(good)}. ${retry}`;
  } else {
    rec.sha = (await git.getMirrorHead(paths.worktree)).head ?? '';
    rec.message = `main ${short(target)} failed (${result.reason}), and the rollback to ${short(good)} failed too (${back.reason}).`;
  }
}

/** Steps 7–10 live in deploy.ts, loaded only when something is deployed: a no-op never pays for it. */
async function deploy(ctx: DeployContext, sha: string, opts: DeployOptions): Promise<DeployResult> {
  return (await import('./deploy.js')).deploy(ctx, sha, opts);
}

function succeed(rec: SyncRecord, sha: string, status: 'noop' | 'updated', message: string): void {
  rec.status = status;
  rec.sha = sha;
  rec.goodSha = sha;
  rec.failedSha = '';
  rec.message = message;
}

/**
 * Step 3's hold: stay on the last good commit. Restart nothing unless the server is
 * unhealthy, then heal it there.
 */
async function holdOnLastGood(ctx: DeployContext, rec: SyncRecord, head: string | null): Promise<void> {
  const { site, log } = ctx;
  const target = rec.targetSha;
  const retry = 'Push a fix to main, or run localhost-ops sync --force to retry it.';
  if (!rec.goodSha) {
    rec.status = 'error';
    rec.message = `main ${short(target)} failed before and there is no good commit yet. ${retry}`;
    log('hold', rec.message);
    return;
  }
  const aligned = head === rec.goodSha && (await git.getDirtyPaths(site.paths.worktree)).length === 0;
  const health = aligned ? await getHealth(site.config, site.paths.worktree) : null;
  rec.status = 'rolled-back';
  if (health?.healthy) {
    rec.sha = rec.goodSha;
    rec.message = `main ${short(target)} failed before; still serving ${short(rec.goodSha)}. ${retry}`;
    log('hold', rec.message);
    return;
  }
  log('hold', `main ${short(target)} is known bad; healing the server on ${short(rec.goodSha)}`);
  const healed = await deploy(ctx, rec.goodSha, { align: !aligned });
  if (healed.depsInstalled) rec.deps = 'installed';
  rec.sha = rec.goodSha;
  if (healed.ok) {
    rec.message = `main ${short(target)} failed before; restarted the server on ${short(rec.goodSha)}. ${retry}`;
  } else {
    rec.status = 'error';
    rec.message = `main ${short(target)} failed before, and the server on ${short(rec.goodSha)} did not come back (${healed.reason}).`;
  }
}
