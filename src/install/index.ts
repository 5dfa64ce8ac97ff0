/**
 * `install`: validate everything, write the config, prepare the mirror with a first sync,
 * install and start the two jobs, and say where to look. Run again for an installed site it
 * remembers: every flag left out keeps its installed value, the summary says what changed,
 * and with nothing changed it restarts nothing.
 */
import { realpathSync } from 'node:fs';
import { resolve } from 'node:path';
import {
  carryInstalledState,
  describeConfigChanges,
  isDevServerAffected,
  isServerAffected,
  mergeInstallFlags,
  parseInstallFlags,
  type InstallFlags,
  type Site,
  type SiteConfig,
} from '../site/config.js';
import { listSiteNames, readSiteConfigOrNull, verifyOpsHome, writeSiteConfig } from '../site/store.js';
import { NAME_RE, getDefaultName, getSitePaths, tildify } from '../site/paths.js';
import { ensureDir } from '../os/fs.js';
import { acquireLock } from '../os/lock.js';
import { appendLogLine } from '../os/log.js';
import { restartThroughSwap } from '../sync/swap.js';
import { performSync } from '../sync/execute.js';
import { short, getExitCodeFor, readSyncRecord, type SyncRecord } from '../site/last-sync.js';
import { runAfterSync, type SyncHooks } from '../sync/watch.js';
import { getJobContext, getJobSpecs, loadBackend, probeSystemdUser, type JobSpec } from '../service/index.js';
import { formatUrl } from '../os/http.js';
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

function isSameRepo(a: string, b: string): boolean {
  const real = (p: string) => {
    try {
      return realpathSync(p);
    } catch {
      return resolve(p);
    }
  };
  return real(a) === real(b);
}

/**
 * The installed site this install is run again for, if any: --name's, else the one named
 * after the repo's folder, else the only site installed from that repo.
 */
export function findInstalled(flags: InstallFlags): SiteConfig | null {
  if (flags.name !== undefined) return NAME_RE.test(flags.name) ? readSiteConfigOrNull(flags.name) : null;
  if (!flags.repo) return null;
  const repo = flags.repo;
  const byFolder = getDefaultName(resolve(repo));
  const named = NAME_RE.test(byFolder) ? readSiteConfigOrNull(byFolder) : null;
  if (named && isSameRepo(named.repo, repo)) return named;
  const same = listSiteNames()
    .map((n) => readSiteConfigOrNull(n))
    .filter((c): c is SiteConfig => c !== null && isSameRepo(c.repo, repo));
  return same.length === 1 ? same[0] : null;
}

export async function installCommand(given: InstallFlags, hooks: SyncHooks = {}): Promise<number> {
  // Run again for an installed site, every flag left out keeps its installed value.
  const installed = findInstalled(given);
  const flags = mergeInstallFlags(given, installed);
  if (flags.metricsDir === undefined && process.env.LOCALHOST_OPS_METRICS_DIR) {
    // Recorded, so the jobs (which do not inherit this shell's environment) write metrics too.
    flags.metricsDir = process.env.LOCALHOST_OPS_METRICS_DIR;
  }
  // systemd only where a user manager answers (DESIGN §4); asked once, before anything is decided.
  const systemd = process.platform === 'linux' ? await probeSystemdUser() : null;
  let config = carryInstalledState(parseInstallFlags(flags, process.platform, systemd?.available === true), installed);
  const progress = await createProgress('checking the repository');
  try {
    verifyOpsHome();
    verifyService(config, systemd);
    await verifyNodePin(config);
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
    const before = readSiteConfigOrNull(config.name);
    const changed = writeSiteConfig(config);
    const site: Site = { name: config.name, config, paths };
    appendLogLine(paths.syncLog, `[${process.pid}] install: config ${changed ? 'written' : 'unchanged'}`);

    // Hold the lock through the job start and the first sync, so the sync job's own first
    // run waits and then finds everything in place (a noop) rather than racing us.
    const lock = await acquireLock(paths.lock);
    let rec: SyncRecord;
    let touched: string[];
    let verdict: { text: string; exitCode: number };
    const diagnose = async (s: Site) => (await import('../doctor/index.js')).writeDiagnosis(s);
    const lastRec = readSyncRecord(paths.lastSync);
    try {
      // The server agent first: it holds the port and explains itself while the first
      // main is prepared behind it.
      progress.update('starting the jobs');
      const backend = await loadBackend(config.service);
      const specs = getJobSpecs(site);
      touched = await backend.apply(site, specs);
      if (!touched.includes('server') && before && isServerAffected(before, config)) {
        // The agent reads the port, host and command when it starts.
        await backend.restart(site, specs.find((spec) => spec.kind === 'server') as JobSpec);
        touched.push('server');
      }
      if (config.paused && lastRec) {
        // Paused: the live slot keeps what it serves; resume follows main again.
        rec = lastRec;
      } else {
        progress.update('preparing main (first sync)');
        rec = await performSync(site, {
          force: false,
          lock,
          progress: (m) => progress.update(m),
          onStatusChange: hooks.onStatusChange ?? diagnose,
        });
        await runAfterSync(site, rec, hooks);
        if (before && isDevServerAffected(before, config) && (rec.status === 'updated' || rec.status === 'noop')) {
          // A new --command or --node: a fresh dev server in the standby slot, switched to once it answers.
          progress.update('restarting the dev server with the new settings (a swap)');
          const swap = await restartThroughSwap(site, { lock, progress: (m) => progress.update(m) });
          if (!swap.ok) {
            rec = {
              ...rec,
              status: 'error',
              message: `The new settings did not start: ${swap.reason}. Still serving ${short(rec.sha)}.`,
            };
          }
        }
      }
      // Still under the lock, so the sync job's first run cannot change what doctor reads.
      progress.update('checking the result');
      verdict = await (await import('../doctor/index.js')).getInstallVerdict(site);
    } finally {
      lock.release();
    }
    progress.stop();
    printSummary(site, rec.status, rec.sha, rec.message, touched, changed, before);
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
  before: SiteConfig | null,
): void {
  const { config, paths } = site;
  const changes = before ? describeConfigChanges(before, config) : [];
  if (before?.uninstalled) changes.unshift('jobs reinstalled after uninstall');
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
    ...(before ? [`  changed  ${changes.length ? changes.map((c) => tildify(c)).join(', ') : 'nothing'}`] : []),
    ...(config.paused
      ? [`  paused   following ${config.branch} no more: localhost-ops resume --name ${config.name} follows it again`]
      : []),
    `  state    ${tildify(paths.lastSync)}: ${status}`,
    `  doctor   localhost-ops doctor --name ${config.name}`,
    '',
  ];
  process.stdout.write(lines.join('\n') + '\n');
}
