/**
 * sync.lock's staleness (DESIGN §3): a holder that is gone, from before this boot, or whose
 * pid now belongs to a process that started at another time. Pure, and the file's reading.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isHolderGone, readLockFile, type HolderFacts } from '../../../src/os/lock.js';

const rows: [string, HolderFacts, boolean][] = [
  ['a live holder, same start', { alive: true, beforeBoot: false, recordedStart: '4711', currentStart: '4711' }, false],
  ['a dead holder', { alive: false, beforeBoot: false, recordedStart: '4711', currentStart: null }, true],
  [
    'a live pid that started later: reused',
    { alive: true, beforeBoot: false, recordedStart: '4711', currentStart: '9000' },
    true,
  ],
  [
    'a live pid, lock from before this boot',
    { alive: true, beforeBoot: true, recordedStart: '4711', currentStart: '4711' },
    true,
  ],
  [
    'an older lock without a start: the pid decides',
    { alive: true, beforeBoot: false, recordedStart: null, currentStart: '9000' },
    false,
  ],
  ['the OS would not say', { alive: true, beforeBoot: false, recordedStart: '4711', currentStart: null }, false],
  [
    'macOS ps lstart, another second',
    {
      alive: true,
      beforeBoot: false,
      recordedStart: 'Mon Mar 16 20:29:43 2026',
      currentStart: 'Mon Mar 16 20:31:02 2026',
    },
    true,
  ],
];
for (const [what, facts, gone] of rows) {
  test(`isHolderGone: ${what}`, () => assert.is(isHolderGone(facts), gone));
}

test('readLockFile: pid, npm group and start; an older two-line lock; garbage', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lops-lock-'));
  try {
    const file = join(dir, 'sync.lock');
    const read = (text: string) => {
      writeFileSync(file, text);
      return readLockFile(file);
    };
    assert.equal(read('123\n456\n7890\n'), { pid: 123, child: 456, start: '7890' });
    assert.equal(read('123\n\n7890\n'), { pid: 123, child: null, start: '7890' });
    assert.equal(read('123\n'), { pid: 123, child: null, start: null });
    assert.equal(read(''), { pid: null, child: null, start: null });
    assert.equal(read('HEAD\n-1\n'), { pid: null, child: null, start: null });
    assert.equal(readLockFile(join(dir, 'missing')), { pid: null, child: null, start: null });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
