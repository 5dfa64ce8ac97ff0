/**
 * last-sync.env: the last sync's outcome, in a form bash can `source` without running
 * anything. Every value is double-quoted with \ " $ and ` escaped, and never spans lines.
 */
import { readTextOrNull, writeFileAtomic } from '../os/fs.js';
import { formatLocalTime } from '../os/log.js';

export { formatLocalTime };

export const STATUSES = ['updated', 'noop', 'error', 'rolled-back'] as const;
export type SyncStatus = (typeof STATUSES)[number];

export interface SyncRecord {
  at: string;
  status: SyncStatus;
  sha: string;
  targetSha: string;
  goodSha: string;
  failedSha: string;
  deps: 'installed' | 'skipped';
  durationMs: number;
  message: string;
}

const KEYS: [keyof SyncRecord, string][] = [
  ['at', 'LAST_SYNC_AT'],
  ['status', 'LAST_SYNC_STATUS'],
  ['sha', 'LAST_SYNC_SHA'],
  ['targetSha', 'LAST_SYNC_TARGET_SHA'],
  ['goodSha', 'LAST_GOOD_SHA'],
  ['failedSha', 'LAST_FAILED_SHA'],
  ['deps', 'LAST_SYNC_DEPS'],
  ['durationMs', 'LAST_SYNC_DURATION_MS'],
  ['message', 'LAST_SYNC_MESSAGE'],
];

/** One line, safe inside bash double quotes. Control characters become spaces. */
export function quoteEnvValue(value: string): string {
  const flat = value.replace(/[\u0000-\u001f\u007f]+/g, ' ');
  return `"${flat.replace(/[\\"$`]/g, (c) => `\\${c}`)}"`;
}

function unquoteEnvValue(raw: string): string | null {
  const m = /^"((?:[^"\\]|\\.)*)"$/.exec(raw);
  if (!m) return null;
  return m[1].replace(/\\([\\"$`])/g, '$1');
}

/** A whole commit id as git writes it: 40 hex digits (SHA-1) or 64 (SHA-256), lower case. */
export function isFullSha(text: string): boolean {
  return /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/.test(text);
}

export function formatSyncRecord(record: SyncRecord): string {
  return KEYS.map(([field, key]) => `${key}=${quoteEnvValue(String(record[field]))}`).join('\n') + '\n';
}

export function parseSyncRecord(text: string): SyncRecord | null {
  const values = new Map<string, string>();
  for (const line of text.split('\n')) {
    const eq = line.indexOf('=');
    if (eq <= 0) continue;
    const value = unquoteEnvValue(line.slice(eq + 1));
    if (value !== null) values.set(line.slice(0, eq), value);
  }
  const status = values.get('LAST_SYNC_STATUS') as SyncStatus | undefined;
  if (!status || !STATUSES.includes(status)) return null;
  const get = (key: string) => values.get(key) ?? '';
  // Anything else (`HEAD`, `--soft`) would reach git as a revision or an option: ignored.
  const getSha = (key: string) => (isFullSha(get(key)) ? get(key) : '');
  return {
    at: get('LAST_SYNC_AT'),
    status,
    sha: getSha('LAST_SYNC_SHA'),
    targetSha: getSha('LAST_SYNC_TARGET_SHA'),
    goodSha: getSha('LAST_GOOD_SHA'),
    failedSha: getSha('LAST_FAILED_SHA'),
    deps: get('LAST_SYNC_DEPS') === 'installed' ? 'installed' : 'skipped',
    durationMs: Number(get('LAST_SYNC_DURATION_MS')) || 0,
    message: get('LAST_SYNC_MESSAGE'),
  };
}

export function readSyncRecord(path: string): SyncRecord | null {
  const text = readTextOrNull(path);
  return text === null ? null : parseSyncRecord(text);
}

export function writeSyncRecord(path: string, record: SyncRecord): void {
  writeFileAtomic(path, formatSyncRecord(record), 0o644);
}

/** A sha as people read it. */
export function short(sha: string | null | undefined): string {
  return sha ? sha.slice(0, 7) : '(none)';
}

/** sync's exit code (DESIGN §1): 0 for updated or noop, 1 for error or rolled-back. */
export function getExitCodeFor(status: SyncStatus): number {
  return status === 'updated' || status === 'noop' ? 0 : 1;
}

export function parseLocalTime(text: string): Date | null {
  const m = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})$/.exec(text);
  if (!m) return null;
  return new Date(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]);
}
