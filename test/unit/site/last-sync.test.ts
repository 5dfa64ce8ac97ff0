/** last-sync.env as data: the record round-trips, unknown statuses are refused, writes are atomic. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync, writeFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  formatSyncRecord,
  isFullSha,
  parseSyncRecord,
  writeSyncRecord,
  type SyncRecord,
} from '../../../src/site/last-sync.js';

const base: SyncRecord = {
  at: '2026-03-16 20:29:43',
  status: 'rolled-back',
  sha: 'a'.repeat(40),
  targetSha: 'b'.repeat(40),
  goodSha: 'a'.repeat(40),
  failedSha: 'b'.repeat(40),
  deps: 'skipped',
  durationMs: 412,
  message: 'ok',
};

test('format and parse round-trip every field', () => {
  assert.equal(parseSyncRecord(formatSyncRecord(base)), base);
});

test('parse rejects a file without a known status', () => {
  assert.is(parseSyncRecord('LAST_SYNC_STATUS="weird"\n'), null);
  assert.is(parseSyncRecord(''), null);
});

test('SHAs that are not 40 or 64 hex digits are ignored, never handed to git', () => {
  const text = (sha: string) =>
    formatSyncRecord({ ...base, sha, targetSha: sha, goodSha: sha, failedSha: sha }).replace(/\n$/, '');
  const cases: [string, string][] = [
    ['a'.repeat(40), 'a'.repeat(40)],
    ['0123456789abcdef'.repeat(4), '0123456789abcdef'.repeat(4)],
    ['HEAD', ''],
    ['--soft', ''],
    ['--upload-pack=touch x', ''],
    ['A'.repeat(40), ''],
    ['a'.repeat(39), ''],
    ['a'.repeat(41), ''],
    ['a'.repeat(40) + ' ', ''],
    ['origin/main', ''],
    ['', ''],
  ];
  for (const [sha, read] of cases) {
    const rec = parseSyncRecord(text(sha));
    assert.ok(rec, sha);
    assert.equal([rec.sha, rec.targetSha, rec.goodSha, rec.failedSha], [read, read, read, read], sha);
    assert.is(isFullSha(sha), read !== '', `isFullSha(${sha})`);
  }
});

test('the file is written atomically (no temp file is left behind)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lops-state-'));
  try {
    const file = join(dir, 'last-sync.env');
    writeFileSync(file, 'old');
    writeSyncRecord(file, base);
    assert.equal(readdirSync(dir), ['last-sync.env']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
