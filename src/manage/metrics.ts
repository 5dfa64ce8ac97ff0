/**
 * Metrics (DESIGN §11): after each sync, localhost_ops_<name>.prom in the Prometheus text
 * format that node_exporter's textfile collector reads, written atomically (temp file and
 * rename, so the collector never reads half a file). Every series is labelled `site`; no
 * sample carries a timestamp.
 */
import { join, resolve } from 'node:path';
import type { Site } from '../site/config.js';
import { parseLocalTime, type SyncRecord } from '../site/last-sync.js';
import { readTextOrNull, writeFileAtomic } from '../os/fs.js';

/** config.json's metrics folder, else LOCALHOST_OPS_METRICS_DIR; null when neither is set. */
export function getMetricsDir(site: Site, env: NodeJS.ProcessEnv = process.env): string | null {
  const dir = site.config.metricsDir || env.LOCALHOST_OPS_METRICS_DIR;
  return dir ? resolve(dir) : null;
}

export function getMetricsPath(dir: string, name: string): string {
  return join(dir, `localhost_ops_${name}.prom`);
}

/** A label value as the text format wants it: \, " and newline escaped. */
export function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function number(n: number): string {
  return Number.isFinite(n) ? String(n) : 'NaN';
}

/** The success timestamp in a previous file, so a failed sync keeps reporting the last good one. */
export function readLastSuccess(previous: string | null, site: string): number {
  if (!previous) return 0;
  const prefix = `localhost_ops_last_success_timestamp_seconds{site="${escapeLabel(site)}"} `;
  const line = previous.split('\n').find((l) => l.startsWith(prefix));
  const value = line ? Number(line.slice(prefix.length)) : NaN;
  return Number.isFinite(value) ? value : 0;
}

/** Pure: the whole file for one sync. `lastSuccess` is the previous success time (0: never). */
export function formatMetrics(site: string, rec: SyncRecord, lastSuccess: number): string {
  const at = parseLocalTime(rec.at);
  const finished = at ? Math.round(at.getTime() / 1000) : 0;
  const ok = rec.status === 'updated' || rec.status === 'noop';
  const label = `site="${escapeLabel(site)}"`;
  const series: [string, 'gauge', string, string, number][] = [
    [
      'localhost_ops_last_sync_timestamp_seconds',
      'gauge',
      'When the last sync finished, in seconds since the Unix epoch.',
      label,
      finished,
    ],
    [
      'localhost_ops_last_success_timestamp_seconds',
      'gauge',
      'When a sync last ended updated or noop, in seconds since the Unix epoch (0: never).',
      label,
      ok ? finished : lastSuccess,
    ],
    ['localhost_ops_sync_duration_seconds', 'gauge', 'How long the last sync took.', label, rec.durationMs / 1000],
    [
      'localhost_ops_up',
      'gauge',
      'Whether the last sync left the site following main (1: updated or noop; 0: error or rolled-back), by that status.',
      `${label},status="${escapeLabel(rec.status)}"`,
      ok ? 1 : 0,
    ],
    [
      'localhost_ops_held_back',
      'gauge',
      'Whether main failed its gate and is held back while the last good commit serves.',
      label,
      rec.status === 'rolled-back' ? 1 : 0,
    ],
    [
      'localhost_ops_served_info',
      'gauge',
      'The commit the live slot serves, as the sha label.',
      `${label},sha="${escapeLabel(rec.sha)}"`,
      1,
    ],
  ];
  return series
    .map(([name, type, help, labels, value]) =>
      [`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, `${name}{${labels}} ${number(value)}`].join('\n'),
    )
    .join('\n')
    .concat('\n');
}

export async function writeMetrics(site: Site, rec: SyncRecord): Promise<void> {
  const dir = getMetricsDir(site);
  if (!dir) return;
  const path = getMetricsPath(dir, site.name);
  const text = formatMetrics(site.name, rec, readLastSuccess(readTextOrNull(path), site.name));
  writeFileAtomic(path, text, 0o644);
}
