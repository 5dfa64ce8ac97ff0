/**
 * `status`: one line per installed site (DESIGN §1, §11): where it serves, which commit,
 * how the last sync ended, whether both jobs run, whether it is paused. Reads state and
 * asks; changes nothing.
 */
import type { Site } from '../site/config.js';
import { listInstalledSiteNames, readSiteConfigOrNull } from '../site/store.js';
import { getSitePaths } from '../site/paths.js';
import { readSyncRecord, short, type SyncStatus } from '../site/last-sync.js';
import { formatUrl } from '../os/http.js';
import { git } from '../os/git.js';
import { loadBackend } from '../service/index.js';
import { getAgentStatus } from '../run/status-client.js';
import { formatDuration, toIsoTime } from './format.js';

export interface SiteStatus {
  name: string;
  url: string;
  /** The commit the live slot serves (the agent's word; last-sync.env's when no agent answers). */
  servedSha: string | null;
  subject: string | null;
  /** When the live server started serving it, ISO 8601 (null when no agent answers). */
  servedSince: string | null;
  status: SyncStatus | null;
  lastSyncAt: string | null;
  jobs: { sync: boolean; server: boolean };
  paused: boolean;
}

/** The subject line of a commit, from the canonical repo (the slots share its objects). */
async function getSubject(repo: string, sha: string): Promise<string | null> {
  try {
    const r = await git(repo, ['log', '-1', '--format=%s', sha, '--'], { allowFail: true, timeoutMs: 10_000 });
    return r.code === 0 ? r.stdout.trim() || null : null;
  } catch {
    return null;
  }
}

async function isJobRunning(site: Site, kind: 'sync' | 'server'): Promise<boolean> {
  try {
    return await (await loadBackend(site.config.service)).isRunning(site, kind);
  } catch {
    return false;
  }
}

export async function getSiteStatus(site: Site): Promise<SiteStatus> {
  const { config, paths } = site;
  const [agent, syncRuns, serverRuns] = await Promise.all([
    getAgentStatus(site, false, 2000),
    isJobRunning(site, 'sync'),
    isJobRunning(site, 'server'),
  ]);
  const rec = readSyncRecord(paths.lastSync);
  const live = agent?.live ? agent.slots[agent.live] : null;
  const servedSha = live?.sha || rec?.sha || null;
  return {
    name: site.name,
    url: formatUrl(config.host, config.port, '/'),
    servedSha,
    subject: servedSha ? await getSubject(config.repo, servedSha) : null,
    servedSince: toIsoTime(live?.startedAt),
    status: rec?.status ?? null,
    lastSyncAt: toIsoTime(rec?.at),
    jobs: { sync: syncRuns, server: serverRuns },
    paused: config.paused === true,
  };
}

/** Pure: the line `status` prints for one site. */
export function formatStatusLine(s: SiteStatus, width: number, now = Date.now()): string {
  const ago = (iso: string | null) => (iso ? `${formatDuration(now - Date.parse(iso))} ago` : null);
  const served = s.servedSha
    ? `serves ${short(s.servedSha)}${s.subject ? ` "${s.subject}"` : ''}${s.servedSince ? ` since ${ago(s.servedSince)}` : ''}`
    : 'serves nothing yet';
  const sync = s.status ? `last sync ${s.status} ${ago(s.lastSyncAt) ?? ''}`.trimEnd() : 'no sync yet';
  const jobs =
    s.jobs.sync && s.jobs.server
      ? 'jobs running'
      : `jobs: ${[s.jobs.sync ? null : 'sync', s.jobs.server ? null : 'server'].filter(Boolean).join(' and ')} not running`;
  return [s.name.padEnd(width), s.url, served, sync, jobs, ...(s.paused ? ['paused'] : [])].join('  ·  ');
}

export async function statusCommand(argv: { json?: boolean }): Promise<number> {
  const sites: Site[] = [];
  for (const name of listInstalledSiteNames()) {
    const config = readSiteConfigOrNull(name);
    if (config) sites.push({ name, config, paths: getSitePaths(name) });
  }
  const statuses = await Promise.all(sites.map(getSiteStatus));
  if (argv.json) {
    process.stdout.write(JSON.stringify({ schemaVersion: 1, sites: statuses }, null, 2) + '\n');
    return 0;
  }
  if (statuses.length === 0) {
    process.stdout.write('No site is installed. Run localhost-ops install --repo DIR to add one.\n');
    return 0;
  }
  const width = Math.max(...statuses.map((s) => s.name.length));
  process.stdout.write(statuses.map((s) => formatStatusLine(s, width)).join('\n') + '\n');
  return 0;
}
