/**
 * `install`: validate everything, write the config, prepare the mirror with a first sync,
 * install and start the two jobs, and say where to look. Run again with the same flags it
 * changes nothing and restarts nothing.
 */
import { parseInstallFlags, type InstallFlags, type Site } from '../site/config.js';
import { writeSiteConfig } from '../site/store.js';
import { getSitePaths, tildify } from '../site/paths.js';
import { ensureDir } from '../os/fs.js';
import { acquireLock } from '../os/lock.js';
import { appendLogLine } from '../os/log.js';
import { performSync } from '../sync/execute.js';
import { short, getExitCodeFor } from '../site/last-sync.js';
import { getJobContext, getJobSpecs, loadBackend } from '../service/index.js';
import { formatUrl } from '../os/http.js';
import { waitForHealthy } from '../run/health.js';
import { createProgress } from '../ui/progress.js';
import {
  resolveMainNode,
  verifyBranch,
  verifyNameFree,
  verifyNodePin,
  verifyPaths,
  verifyPort,
  verifyRepo,
  verifyService,
} from './validate.js';

export async function installCommand(flags: InstallFlags): Promise<number> {
  let config = parseInstallFlags(flags);
  const progress = await createProgress('checking the repository');
  try {
    verifyService(config);
    verifyNodePin(config);
    config = { ...config, repo: await verifyRepo(config) };
    verifyPaths(config);
    verifyNameFree(config);
    await verifyPort(config);
    progress.update(`fetching ${config.remote}/${config.branch}`);
    await verifyBranch(config);
    progress.update('finding a Node for main');
    // Before anything is written: no Node for main's engines means nothing could run.
    const node = await resolveMainNode(config);
    config = { ...config, jobs: getJobContext(node.binDir) };

    // Nothing was written above; from here on the site exists.
    const paths = getSitePaths(config.name);
    ensureDir(paths.dir);
    ensureDir(paths.logs);
    const changed = writeSiteConfig(config);
    const site: Site = { name: config.name, config, paths };
    appendLogLine(paths.syncLog, `[${process.pid}] install: config ${changed ? 'written' : 'unchanged'}`);

    // Hold the lock through the first sync and the job start, so the sync job's own first
    // run waits and then finds everything in place (a noop) rather than racing us.
    const lock = await acquireLock(paths.lock);
    let rec;
    let touched: string[];
    let verdict: { text: string; exitCode: number };
    try {
      progress.update('preparing the mirror (first sync)');
      rec = await performSync(site, { force: false, lock, progress: (m) => progress.update(m) });
      progress.update('starting the jobs');
      const backend = await loadBackend(config.service);
      touched = await backend.apply(site, getJobSpecs(site));
      if (touched.includes('server')) {
        // A reloaded server job starts a new server: wait for it, as the first sync did.
        progress.update('waiting for the server');
        const health = await waitForHealthy(config, paths.worktree, () => backend.isRunning(site, 'server'));
        appendLogLine(
          paths.syncLog,
          `[${process.pid}] install: server job reloaded; ${health.healthy ? 'healthy' : `not healthy: ${health.reason}`}`,
        );
      }
      // Still under the lock, so the sync job's first run cannot change what doctor reads.
      progress.update('checking the result');
      verdict = await (await import('../doctor/index.js')).getInstallVerdict(site);
    } finally {
      lock.release();
    }
    progress.stop();
    printSummary(site, rec.status, rec.sha, rec.message, touched, changed);
    process.stdout.write(verdict.text);
    return Math.max(getExitCodeFor(rec.status), verdict.exitCode);
  } finally {
    progress.stop();
  }
}

function printSummary(
  site: Site,
  status: string,
  sha: string,
  message: string,
  touched: string[],
  configChanged: boolean,
): void {
  const { config, paths } = site;
  const url = formatUrl(config.host, config.port, '/');
  const ok = status === 'updated' || status === 'noop';
  const lines = [
    ok
      ? `Serving ${config.branch} ${short(sha)} at ${url}`
      : `The mirror is installed but not serving ${config.branch}: ${message}`,
    `  site     ${config.name}`,
    `  mirror   ${tildify(paths.worktree)}`,
    `  jobs     ${config.service} backend, sync every ${config.interval} s: ${touched.length ? `(re)started ${touched.join(' and ')}` : 'unchanged'}`,
    `  config   ${tildify(paths.config)} (${configChanged ? 'written' : 'unchanged'})`,
    `  state    ${tildify(paths.lastSync)}: ${status}`,
    `  doctor   localhost-ops doctor --name ${config.name}`,
    '',
  ];
  process.stdout.write(lines.join('\n') + '\n');
}
