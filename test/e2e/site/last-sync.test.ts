/** last-sync.env is read by bash too: every message comes back exactly, and sourcing it runs nothing. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseSyncRecord, writeSyncRecord, type SyncRecord } from '../../../src/site/last-sync.js';
import { run } from '../../helpers/proc.js';

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

test.run();
