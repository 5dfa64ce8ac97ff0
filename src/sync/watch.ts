/**
 * `sync --watch`: the sync agent (DESIGN §3.2). A resident process per site: one sync at
 * start, then one every interval, and one at once when the canonical repo's
 * <remote>/<branch> moves (a pull, an editor's fetch) or on SIGHUP. A failed sync never
 * ends it; consecutive errors make it wait longer. SIGTERM ends it promptly: an npm ci in
 * flight is ended (that slot's node_modules then count as not installed). A paused site
 * (config.json `paused`, re-read before each sync) is not synced, but the agent keeps
 * running, and a change to config.json (resume, install) wakes it at once.
 */
import { watch, type FSWatcher } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Site } from '../site/config.js';
import { resolveSite, verifyInstalled } from '../site/store.js';
import { appendLogLine } from '../os/log.js';
import { readTextOrNull } from '../os/fs.js';
import { readRefFromFiles } from '../os/git.js';
import { getLiveHolder } from '../os/lock.js';
import { pollUntil } from '../os/poll.js';
import { readSyncRecord } from '../site/last-sync.js';
import { killQuietly } from '../os/exec.js';
import { describeError } from '../errors.js';
import type { SyncRecord } from '../site/last-sync.js';
import { performSync, type StatusChangeHook } from './execute.js';
import { planNextWait } from './plan.js';

/** Called after every sync, whatever its outcome (the metrics file). */
export type AfterSyncHook = (site: Site, rec: SyncRecord) => Promise<void>;

/** What the commands hand the sync: it imports neither doctor/ nor manage/ (DESIGN §7). */
export interface SyncHooks {
  /** Only when the status differs from the last sync's (diagnosis, notification). */
  onStatusChange?: StatusChangeHook;
  afterSync?: AfterSyncHook;
}

/** Several ref writes (lock, rename, packed-refs) come together; one sync answers them all. */
const DEBOUNCE_MS = 300;
/** How long a stop waits for the sync in flight to unwind before the process exits anyway. */
const STOP_GRACE_MS = 3000;

export async function watchCommand(name: string | undefined, hooks: SyncHooks = {}): Promise<number> {
  let site = verifyInstalled(resolveSite(name));
  const { onStatusChange } = hooks;
  const log = (m: string) => appendLogLine(site.paths.syncLog, `[${process.pid}] agent: ${m}`);
  let wake: (() => void) | null = null;
  // Set by a trigger; cleared at the top of each round.
  let triggered = false;
  let stopping = false;
  let npmGroup: number | null = null;
  let watchers: FSWatcher[] = [];
  let watchedRef = '';
  let lastSeen: string | null = null;
  let configWatcher: FSWatcher | null = null;
  let pausedNoted = false;

  /** A ref move seen while a sync runs may be that sync's own fetch: checked again after it. */
  let onlyRefMoved = false;
  const trigger = (why: string, fromRef = false) => {
    if (stopping) return;
    onlyRefMoved = (triggered ? onlyRefMoved : true) && fromRef;
    triggered = true;
    log(`woken: ${why}`);
    wake?.();
  };

  let debounce: NodeJS.Timeout | null = null;
  const onRefEvent = (gitDir: string, ref: string) => {
    if (debounce) clearTimeout(debounce);
    debounce = setTimeout(() => {
      const sha = readRefFromFiles(gitDir, ref);
      if (sha && sha !== lastSeen) trigger(`${ref.replace('refs/remotes/', '')} moved to ${sha.slice(0, 7)}`, true);
    }, DEBOUNCE_MS);
  };

  /** Watches refs/remotes/<remote>/ and packed-refs in the canonical repo's git dir. */
  const watchRefs = (s: Site) => {
    const gitDir = join(s.config.repo, '.git');
    const ref = `refs/remotes/${s.config.remote}/${s.config.branch}`;
    if (ref === watchedRef) return;
    for (const w of watchers) w.close();
    watchers = [];
    watchedRef = ref;
    lastSeen = readRefFromFiles(gitDir, ref);
    for (const dir of [dirname(join(gitDir, ref)), gitDir]) {
      try {
        const w = watch(dir, { persistent: false }, (_event, file) => {
          if (dir === gitDir && file !== 'packed-refs') return;
          onRefEvent(gitDir, ref);
        });
        w.on('error', () => undefined);
        watchers.push(w);
      } catch {
        // The remote's ref folder appears with its first fetch; the interval covers until then.
      }
    }
  };

  /** config.json replaced (resume, pause, install): re-read it now rather than at the next interval. */
  let configText = readTextOrNull(site.paths.config);
  let configDebounce: NodeJS.Timeout | null = null;
  try {
    const w = watch(site.paths.dir, { persistent: false }, (_event, file) => {
      if (file !== 'config.json') return;
      if (configDebounce) clearTimeout(configDebounce);
      configDebounce = setTimeout(() => {
        const text = readTextOrNull(site.paths.config);
        if (text === configText) return;
        configText = text;
        trigger('config.json changed');
      }, DEBOUNCE_MS);
    });
    w.on('error', () => undefined);
    configWatcher = w;
  } catch {
    // The interval still re-reads it.
  }

  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    log(`${signal}: stopping`);
    // The npm ci in flight is ended with its whole group; installDeps then removes its half tree.
    if (npmGroup) killQuietly(-npmGroup, 'SIGTERM');
    wake?.();
    setTimeout(() => process.exit(0), STOP_GRACE_MS).unref();
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGHUP', () => trigger('SIGHUP'));

  log(
    `started (pid ${process.pid}), every ${site.config.interval} s and when ${site.config.remote}/${site.config.branch} moves`,
  );
  let errors = 0;
  while (!stopping) {
    const wokenByRef = triggered && onlyRefMoved;
    triggered = false;
    try {
      // Re-read each time: install may have changed the interval, the branch or the command.
      site = verifyInstalled(resolveSite(site.name));
      watchRefs(site);
      if (site.config.paused) {
        // Nothing is fetched or prepared; the live slot keeps serving what it serves.
        if (!pausedNoted) log(`paused: following main no more until localhost-ops resume --name ${site.name}`);
        pausedNoted = true;
        errors = 0;
      } else {
        if (pausedNoted) log('resumed: following main again');
        pausedNoted = false;
        const settled = wokenByRef ? await getSettledTarget(site) : null;
        if (settled !== null) {
          // Another sync (a manual one) fetched, and so woke us, and has finished on that main since.
          lastSeen = settled;
          log("woken by another sync's fetch, which has settled that main since: nothing to do");
        } else {
          const rec = await performSync(site, {
            force: false,
            onStatusChange,
            onChild: (pgid) => (npmGroup = pgid),
            isStopping: () => stopping,
          });
          lastSeen = rec.targetSha || lastSeen;
          errors = rec.status === 'error' ? errors + 1 : 0;
          // Our own fetch moved the ref during this sync: nothing new to follow, no second sync.
          const ref = `refs/remotes/${site.config.remote}/${site.config.branch}`;
          if (triggered && onlyRefMoved && readRefFromFiles(join(site.config.repo, '.git'), ref) === lastSeen) {
            triggered = false;
          }
          await runAfterSync(site, rec, hooks);
        }
      }
    } catch (err) {
      errors++;
      log(`sync failed to run: ${describeError(err)}`);
    }
    if (stopping) break;
    if (triggered) {
      errors = 0;
      continue;
    }
    const waitMs = planNextWait(site.config.interval, errors);
    if (errors > 0) log(`next sync in ${waitMs / 1000} s (${errors} error${errors > 1 ? 's' : ''} in a row)`);
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, waitMs);
      function done() {
        clearTimeout(timer);
        wake = null;
        resolve();
      }
      wake = done;
    });
    if (triggered) errors = 0;
  }
  for (const w of watchers) w.close();
  configWatcher?.close();
  return 0;
}

/** The afterSync hook (metrics), whose failure never fails the sync: it goes to sync.log. */
export async function runAfterSync(site: Site, rec: SyncRecord, hooks: SyncHooks): Promise<void> {
  if (!hooks.afterSync) return;
  try {
    await hooks.afterSync(site, rec);
  } catch (err) {
    appendLogLine(site.paths.syncLog, `[${process.pid}] after-sync: failed: ${describeError(err)}`);
  }
}

/** How long a ref event waits for the sync that caused it to finish, before syncing anyway. */
const OTHER_SYNC_WAIT_MS = 30_000;

/**
 * A ref moved while another process's sync held the lock (its fetch moved it): once that
 * sync is done, has it already settled what the ref names now (served it, held it back or
 * failed on it)? Then there is nothing new: returns that main, else null. Syncing again at
 * once would only repeat its verdict ("failed before", the same error), and could take a fix
 * pushed meanwhile from under the user's next `sync`; the agent's interval and error
 * back-off decide the next try.
 */
async function getSettledTarget(site: Site): Promise<string | null> {
  await pollUntil(async () => (await getLiveHolder(site.paths.lock)) === null, OTHER_SYNC_WAIT_MS, 100);
  const ref = `refs/remotes/${site.config.remote}/${site.config.branch}`;
  const now = readRefFromFiles(join(site.config.repo, '.git'), ref);
  return now !== null && readSyncRecord(site.paths.lastSync)?.targetSha === now ? now : null;
}
