/**
 * `sync --watch`: the sync agent (DESIGN §3.2). A resident process per site: one sync at
 * start, then one every interval, and one at once when the canonical repo's
 * <remote>/<branch> moves (a pull, an editor's fetch) or on SIGHUP. A failed sync never
 * ends it; consecutive errors make it wait longer. SIGTERM ends it promptly: an npm ci in
 * flight is ended (that slot's node_modules then count as not installed).
 */
import { watch, type FSWatcher } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Site } from '../site/config.js';
import { resolveSite, verifyInstalled } from '../site/store.js';
import { appendLogLine } from '../os/log.js';
import { readRefFromFiles } from '../os/git.js';
import { killQuietly } from '../os/exec.js';
import { describeError } from '../errors.js';
import { performSync, type StatusChangeHook } from './execute.js';
import { planNextWait } from './plan.js';

/** Several ref writes (lock, rename, packed-refs) come together; one sync answers them all. */
const DEBOUNCE_MS = 300;
/** How long a stop waits for the sync in flight to unwind before the process exits anyway. */
const STOP_GRACE_MS = 3000;

export async function watchCommand(name: string | undefined, onStatusChange?: StatusChangeHook): Promise<number> {
  let site = verifyInstalled(resolveSite(name));
  const log = (m: string) => appendLogLine(site.paths.syncLog, `[${process.pid}] agent: ${m}`);
  let wake: (() => void) | null = null;
  let triggered = false;
  let stopping = false;
  let npmGroup: number | null = null;
  let watchers: FSWatcher[] = [];
  let watchedRef = '';
  let lastSeen: string | null = null;

  const trigger = (why: string) => {
    if (stopping) return;
    triggered = true;
    log(`woken: ${why}`);
    wake?.();
  };

  let debounce: NodeJS.Timeout | null = null;
  const onRefEvent = (gitDir: string, ref: string) => {
    if (debounce) clearTimeout(debounce);
    debounce = setTimeout(() => {
      const sha = readRefFromFiles(gitDir, ref);
      if (sha && sha !== lastSeen) trigger(`${ref.replace('refs/remotes/', '')} moved to ${sha.slice(0, 7)}`);
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
    triggered = false;
    try {
      // Re-read each time: install may have changed the interval, the branch or the command.
      site = verifyInstalled(resolveSite(site.name));
      watchRefs(site);
      const rec = await performSync(site, {
        force: false,
        onStatusChange,
        onChild: (pgid) => (npmGroup = pgid),
      });
      lastSeen = rec.targetSha || lastSeen;
      errors = rec.status === 'error' ? errors + 1 : 0;
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
  return 0;
}
