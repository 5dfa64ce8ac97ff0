/** logs: colour codes stripped, lines merged by time with their labels, -n checked. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { formatLogLine, mergeByTime, parseLineCount, parseLogLines } from '../../../src/manage/logs.js';
import { stripAnsi, formatDuration, toIsoTime } from '../../../src/manage/format.js';

test('colour and cursor codes are stripped; a redrawn line shows its last state', () => {
  assert.is(stripAnsi('\u001b[32m✓\u001b[39m ready in \u001b[1m120\u001b[22m ms'), '✓ ready in 120 ms');
  assert.is(stripAnsi('\u001b]8;;http://x\u0007link\u001b]8;;\u0007'), 'link');
  assert.is(stripAnsi('\u001b[2K\u001b[1Gnpm progress 10%\rnpm progress 100%'), 'npm progress 100%');
  assert.is(stripAnsi('plain'), 'plain');
});

test('a line without a timestamp keeps the time of the line before it', () => {
  const lines = parseLogLines(
    'sync',
    '2026-03-16 20:29:40 [1] deps: npm ci\nadded 3 packages\n2026-03-16 20:29:45 [1] done: ok\n',
  );
  assert.equal(
    lines.map((l) => l.at),
    ['2026-03-16 20:29:40', '2026-03-16 20:29:40', '2026-03-16 20:29:45'],
  );
  assert.is(parseLogLines('sync', 'orphan\n', '2026-01-01 00:00:00')[0].at, '2026-01-01 00:00:00');
});

test('two logs merge in time order, stable at equal times, each line labelled', () => {
  const sync = parseLogLines('sync', '2026-03-16 20:00:01 s1\n2026-03-16 20:00:03 s2\nnpm out\n');
  const server = parseLogLines('server', '2026-03-16 20:00:02 v1\n2026-03-16 20:00:03 v2\n2026-03-16 20:00:04 v3\n');
  const merged = mergeByTime([sync, server]).map((l) => formatLogLine(l, true));
  assert.equal(merged, [
    'sync   2026-03-16 20:00:01 s1',
    'server 2026-03-16 20:00:02 v1',
    'sync   2026-03-16 20:00:03 s2',
    'sync   npm out',
    'server 2026-03-16 20:00:03 v2',
    'server 2026-03-16 20:00:04 v3',
  ]);
  assert.is(formatLogLine(sync[0], false), '2026-03-16 20:00:01 s1');
});

test('-n takes a whole number', () => {
  assert.is(parseLineCount(undefined), 50);
  assert.is(parseLineCount('0'), 0);
  assert.is(parseLineCount('200'), 200);
  for (const bad of ['-1', 'ten', '1.5', '']) assert.throws(() => parseLineCount(bad), /whole number/);
});

test('ages and times as status shows them', () => {
  assert.is(formatDuration(5_000), '5 s');
  assert.is(formatDuration(300_000), '5 min');
  assert.is(formatDuration(3 * 3600_000), '3 h');
  assert.is(formatDuration(3 * 86_400_000), '3 days');
  assert.is(toIsoTime('nonsense'), null);
  assert.is(toIsoTime(null), null);
  assert.is(toIsoTime('2026-03-16 20:29:43'), new Date(2026, 2, 16, 20, 29, 43).toISOString());
});

test.run();
