/**
 * Facts several checks need, each gathered at most once and only when a check asks:
 * the state file, the mirror's HEAD, the listeners on the port, the Node, the jobs.
 * The network probe starts at once, so its round trip overlaps every local check.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Site } from '../site/config.js';
import * as git from '../os/git.js';
import { readSyncRecord, type SyncRecord } from '../site/last-sync.js';
import { getListeners, type Listener } from '../os/listeners.js';
import { readDepsStamp } from '../runtime/deps.js';
import { getNodeFor } from '../runtime/pinned-node.js';
import { describeError } from '../errors.js';
import { readTextOrNull } from '../os/fs.js';
import { getLiveHolder } from '../os/lock.js';
import { readLastLineOf } from '../os/log.js';
import type { NodeInstall } from '../runtime/choose.js';
import { getJobSpecs, loadBackend, type JobSpec, type ServiceBackend, type ServiceStatus } from '../service/index.js';

import { readInstalledJobs, type InstalledJobs } from './installed.js';
import { getAgentStatus } from '../run/status-client.js';
import type { AgentStatus } from '../run/protocol.js';
import type { Slot } from '../site/paths.js';

export interface DoctorOptions {
  /** false: no ls-remote; `aligned` is skipped. */
  network: boolean;
}

/** ls-remote waits this long: an unreachable forge is a warning, not a hang. */
export const LS_REMOTE_TIMEOUT_MS = 3000;

export type Settled<T> = { ok: true; value: T } | { ok: false; error: unknown };

/** Memoizes fn; a promise is memoized as is, so concurrent callers share one run. */
function lazy<T>(fn: () => T): () => T {
  let done = false;
  let value: T;
  return () => {
    if (!done) {
      value = fn();
      done = true;
    }
    return value;
  };
}

async function settle<T>(fn: () => Promise<T>): Promise<Settled<T>> {
  try {
    return { ok: true, value: await fn() };
  } catch (error) {
    return { ok: false, error };
  }
}

export interface RemoteHead {
  sha: string | null;
  /** Why ls-remote failed (unreachable, timed out); null when it answered. */
  error: string | null;
  ms: number;
}

export interface ServedPackage {
  /** The commit the mirror serves (its HEAD, or the last sync's when the mirror is gone). */
  sha: string | null;
  text: string | null;
}

export interface SlotInfo {
  slot: Slot;
  dir: string;
  present: boolean;
  head: string | null;
  /** The branch checked out in it (refs/heads/…), or null when detached, as slots are. */
  branchRef: string | null;
}

/** Another process's sync in flight: the live holder of sync.lock, and where it is. */
export interface RunningSync {
  pid: number;
  /** Its last line in sync.log ("deps: npm ci under Node 22.3.0 (…)"); null before its first. */
  step: string | null;
}

/** "a sync is running (pid 4242, at deps: npm ci under Node 22.3.0 (…))" */
export function describeRunningSync(s: RunningSync): string {
  return `a sync is running (pid ${s.pid}${s.step ? `, at ${s.step}` : ''})`;
}

/** What a check that waits for the running sync tells the reader to do. */
export function waitForSync(name: string): { fix: string; command: string } {
  const command = `localhost-ops logs -f --name ${name}`;
  return { fix: `Wait for it to finish, then run doctor again; ${command} shows its steps.`, command };
}

export interface ServiceFacts {
  status: ServiceStatus;
  /** What install would write now. */
  specs: JobSpec[];
  installed: InstalledJobs;
  backend: ServiceBackend;
}

export class DoctorContext {
  constructor(
    readonly site: Site,
    readonly options: DoctorOptions,
  ) {
    if (options.network) void this.remoteHead();
  }

  get config() {
    return this.site.config;
  }

  get paths() {
    return this.site.paths;
  }

  readonly record = lazy((): SyncRecord | null => readSyncRecord(this.paths.lastSync));

  /**
   * A sync running now in another process (sync.lock's holder, alive and not a reused pid),
   * and its step: the checks then judge only what it does not touch, the live slot. null
   * when none runs, or when this doctor runs inside the sync itself (install's verdict, the
   * diagnosis a sync writes), which judges everything as usual.
   */
  readonly runningSync = lazy(async (): Promise<RunningSync | null> => {
    const pid = await getLiveHolder(this.paths.lock);
    if (pid === null || pid === process.pid) return null;
    return { pid, step: readLastLineOf(this.paths.syncLog, pid) };
  });

  /** The folder exists and is a registered worktree of the canonical repo. */
  readonly mirrorPresent = lazy(
    () => existsSync(this.paths.worktree) && git.isWorktreeOf(this.paths.worktree, this.config.repo),
  );

  readonly mirrorHead = lazy(async (): Promise<git.MirrorHead> =>
    this.mirrorPresent() ? git.getMirrorHead(this.paths.worktree) : { head: null, branchRef: null },
  );

  /** origin/main as the sync job last fetched it. */
  readonly mainSha = lazy(() =>
    git.getRefSha(this.config.repo, `refs/remotes/${this.config.remote}/${this.config.branch}`),
  );

  readonly remoteHead = lazy(async (): Promise<RemoteHead> => {
    const started = Date.now();
    try {
      const sha = await git.lsRemote(this.config.repo, this.config.remote, this.config.branch, LS_REMOTE_TIMEOUT_MS);
      return { sha, error: null, ms: Date.now() - started };
    } catch (err) {
      return { sha: null, error: describeError(err), ms: Date.now() - started };
    }
  });

  readonly listeners = lazy((): Promise<Listener[]> => getListeners(this.config.port));

  readonly servedPackage = lazy(async (): Promise<ServedPackage> => {
    const sha = (await this.mirrorHead()).head ?? (this.record()?.sha || null);
    // The mirror's own file while it exists, even when the canonical repo has gone missing.
    const text = readTextOrNull(join(this.paths.worktree, 'package.json'));
    if (text !== null || !sha) return { sha, text };
    return { sha, text: await git.showFile(this.config.repo, sha, 'package.json') };
  });

  /** The Node the served commit runs under: the deps stamp's when still valid, else a search. */
  readonly servedNode = lazy(() =>
    settle(async (): Promise<NodeInstall> => {
      const { text } = await this.servedPackage();
      const stamp = readDepsStamp(this.paths.worktree);
      return (await getNodeFor(this.config, text, stamp)).node;
    }),
  );

  /**
   * The server agent's own account (GET /status), or null when it does not answer. No fresh
   * probe: that would send a request to the live dev server before the slots check could
   * find its folder gone (and crash it there); the http check, which depends on slots and
   * server-process, is doctor's one request to the site.
   */
  readonly agent = lazy((): Promise<AgentStatus | null> => getAgentStatus(this.site, false, 4000));

  /** Both slots: registered worktrees of the canonical repo, and their HEADs. */
  readonly slots = lazy(async (): Promise<Record<Slot, SlotInfo>> => {
    const one = async (slot: Slot): Promise<SlotInfo> => {
      const dir = this.paths.slots[slot];
      const present = existsSync(dir) && git.isWorktreeOf(dir, this.config.repo);
      const { head, branchRef } = present ? await git.getMirrorHead(dir) : { head: null, branchRef: null };
      return { slot, dir, present, head, branchRef };
    };
    return { a: await one('a'), b: await one('b') };
  });

  readonly service = lazy(() =>
    settle(async (): Promise<ServiceFacts> => {
      const specs = getJobSpecs(this.site);
      const backend = await loadBackend(this.config.service);
      const [status, installed] = await Promise.all([
        backend.status(this.site, specs),
        readInstalledJobs(this.site, backend),
      ]);
      return { status, specs, installed, backend };
    }),
  );
}
