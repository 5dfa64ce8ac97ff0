/** `sync`: one realignment now. Thin: the work is in execute.ts. */
import type { Site } from '../site/config.js';
import { resolveSite, verifyInstalled } from '../site/store.js';
import { readSyncRecord, short, getExitCodeFor } from '../site/last-sync.js';
import { readTextOrNull } from '../os/fs.js';
import { readLastLineOf } from '../os/log.js';
import { formatUrl } from '../os/http.js';
import { performSync } from './execute.js';
import { UserError } from '../errors.js';
import type { SyncRecord } from '../site/last-sync.js';
import { runAfterSync, type SyncHooks } from './watch.js';

export function toJson(rec: SyncRecord) {
  return {
    status: rec.status,
    sha: rec.sha,
    targetSha: rec.targetSha,
    goodSha: rec.goodSha,
    failedSha: rec.failedSha,
    deps: rec.deps,
    durationMs: rec.durationMs,
    message: rec.message,
    at: rec.at,
  };
}

/** A paused site follows main no more (DESIGN §11): a manual sync is refused, naming `resume`. */
export function verifyNotPaused(site: Site): Site {
  if (site.config.paused) {
    const served = readSyncRecord(site.paths.lastSync)?.sha;
    throw new UserError(
      `The site "${site.name}" is paused: it keeps serving ${served ? short(served) : 'its live slot'} and follows ${site.config.branch} no more.`,
      `Run localhost-ops resume --name ${site.name} to follow it again (it syncs at once).`,
    );
  }
  return site;
}

/**
 * Says (once after `afterMs`, then whenever the step changes) that another sync holds the
 * lock, and which step it is at, until stopped. The sync itself waits in acquireLock.
 */
export function noteWhileWaiting(site: Site, write: (line: string) => void, afterMs = 2000): { stop(): void } {
  let last = '';
  let interval: NodeJS.Timeout | undefined;
  const tick = () => {
    const holder = Number((readTextOrNull(site.paths.lock) ?? '').split('\n')[0]);
    if (!Number.isInteger(holder) || holder <= 0 || holder === process.pid) return;
    const step = readLastLineOf(site.paths.syncLog, holder);
    const line = `waiting for another sync (pid ${holder})${step ? `, at ${step}` : ''}`;
    if (line !== last) write(line);
    last = line;
  };
  const first = setTimeout(() => {
    tick();
    interval = setInterval(tick, 2000);
    interval.unref();
  }, afterMs);
  first.unref();
  return {
    stop() {
      clearTimeout(first);
      if (interval) clearInterval(interval);
    },
  };
}

export async function syncCommand(
  argv: { name?: string; force?: boolean; json?: boolean; watch?: boolean },
  hooks: SyncHooks = {},
): Promise<number> {
  if (argv.watch) {
    if (argv.force || argv.json)
      throw new UserError(
        '--watch runs the sync agent; it takes neither --force nor --json.',
        'Run localhost-ops sync --watch --name NAME alone.',
      );
    return (await import('./watch.js')).watchCommand(argv.name, hooks);
  }
  const site = verifyNotPaused(verifyInstalled(resolveSite(argv.name)));
  const tty = process.stderr.isTTY === true && !argv.json;
  const waiting = noteWhileWaiting(site, (line) => process.stderr.write(`localhost-ops: ${line}\n`));
  let rec: SyncRecord;
  try {
    rec = await performSync(site, {
      force: argv.force === true,
      onStatusChange: hooks.onStatusChange,
      progress: (m) => {
        // The first step is logged once the lock is ours.
        waiting.stop();
        if (tty) process.stderr.write(`  ${m}\n`);
      },
    });
  } finally {
    waiting.stop();
  }
  await runAfterSync(site, rec, hooks);
  if (argv.json) {
    const url = formatUrl(site.config.host, site.config.port, '/');
    process.stdout.write(JSON.stringify({ site: site.name, url, ...toJson(rec) }) + '\n');
  } else {
    process.stdout.write(`${rec.status}: ${rec.message} (sha ${short(rec.sha)}, ${rec.durationMs} ms)\n`);
  }
  return getExitCodeFor(rec.status);
}
