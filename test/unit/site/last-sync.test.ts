import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync, writeFileSync, readFileSync, statSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatSyncRecord, parseSyncRecord, writeSyncRecord, type SyncRecord } from '../../../src/site/last-sync.js';
import { run } from '../../../src/os/exec.js';

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

const NASTY = [
  'plain words',
  'double "quotes" and \'single\' ones',
  'a $(touch PWNED) substitution and ${HOME} and $HOME',
  'back`touch PWNED`ticks',
  'back\\slash \\" \\$ trailing\\',
  'new\nline and \r carriage',
  '; touch PWNED; echo "',
  'unicode ✓ — ü',
];

test('every message reads back exactly through bash source, and runs nothing', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'lops-state-'));
  try {
    for (const message of NASTY) {
      const file = join(dir, 'last-sync.env');
      writeSyncRecord(file, { ...base, message });
      const text = readFileSync(file, 'utf8');
      assert.is(text.trim().split('\n').length, 9, 'one line per key');
      assert.is(statSync(file).mode & 0o022, 0, 'not group/world writable');
      const r = await run('bash', ['-c', `set -eu; source ./last-sync.env; printf '%s' "$LAST_SYNC_MESSAGE"`], {
        cwd: dir,
      });
      const expected = message.replace(/[\u0000-\u001f]+/g, ' ');
      assert.is(r.stdout, expected, `bash reads back: ${JSON.stringify(message)}`);
      assert.is(parseSyncRecord(text)?.message, expected, 'our reader agrees');
      let pwned = false;
      try {
        statSync(join(dir, 'PWNED'));
        pwned = true;
      } catch {
        // good
      }
      assert.not.ok(pwned, `sourcing ran something for ${JSON.stringify(message)}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('format and parse round-trip every field', () => {
  assert.equal(parseSyncRecord(formatSyncRecord(base)), base);
});

test('parse rejects a file without a known status', () => {
  assert.is(parseSyncRecord('LAST_SYNC_STATUS="weird"\n'), null);
  assert.is(parseSyncRecord(''), null);
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
