/**
 * `pause` / `resume` (DESIGN §11): stop and start following main. A paused site keeps
 * serving its live slot; its sync agent keeps running but syncs nothing, and a manual sync
 * is refused. The flag lives in config.json, which the agent re-reads before each sync and
 * watches, so `resume` syncs at once.
 */
import type { Site } from '../site/config.js';
import { readSiteConfig, resolveSite, verifyInstalled, writeSiteConfig } from '../site/store.js';
import { readSyncRecord, short } from '../site/last-sync.js';
import { acquireLock } from '../os/lock.js';
import { appendLogLine } from '../os/log.js';
import { formatUrl } from '../os/http.js';
import { noteWhileWaiting } from '../sync/index.js';

/** Sets or clears `paused` under the sync lock: a sync in flight finishes first, none starts meanwhile. */
async function setPaused(site: Site, paused: boolean): Promise<void> {
  const waiting = noteWhileWaiting(site, (line) => process.stderr.write(`localhost-ops: ${line}\n`));
  let lock;
  try {
    lock = await acquireLock(site.paths.lock);
  } finally {
    waiting.stop();
  }
  try {
    // Read again under the lock: an install may have rewritten it meanwhile.
    const config = { ...readSiteConfig(site.name) };
    if (paused) config.paused = true;
    else delete config.paused;
    writeSiteConfig(config);
    const word = paused ? 'pause' : 'resume';
    appendLogLine(site.paths.syncLog, `[${process.pid}] ${word}: localhost-ops ${word} --name ${site.name}`);
  } finally {
    lock.release();
  }
}

function served(site: Site): string {
  const sha = readSyncRecord(site.paths.lastSync)?.sha;
  return sha ? short(sha) : 'its live slot';
}

export async function pauseCommand(argv: { name?: string }): Promise<number> {
  const site = verifyInstalled(resolveSite(argv.name));
  const url = formatUrl(site.config.host, site.config.port, '/');
  if (site.config.paused) {
    process.stdout.write(
      `"${site.name}" is already paused; it serves ${served(site)} at ${url}. Run localhost-ops resume --name ${site.name} to follow ${site.config.branch} again.\n`,
    );
    return 0;
  }
  await setPaused(site, true);
  process.stdout.write(
    `Paused "${site.name}": it keeps serving ${served(site)} at ${url} and follows ${site.config.branch} no more. Run localhost-ops resume --name ${site.name} to follow it again.\n`,
  );
  return 0;
}

export async function resumeCommand(argv: { name?: string }): Promise<number> {
  const site = verifyInstalled(resolveSite(argv.name));
  if (!site.config.paused) {
    process.stdout.write(`"${site.name}" is not paused; it follows ${site.config.branch}.\n`);
    return 0;
  }
  await setPaused(site, false);
  process.stdout.write(
    `Resumed "${site.name}": its sync agent follows ${site.config.branch} again, starting now (localhost-ops status shows the result).\n`,
  );
  return 0;
}
