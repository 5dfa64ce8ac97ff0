/** The metrics file: DESIGN §11's series, each labelled site, no timestamps, and a strict parser's approval. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { escapeLabel, formatMetrics, readLastSuccess } from '../../../src/manage/metrics.js';
import { parseLocalTime, type SyncRecord } from '../../../src/site/last-sync.js';
import { parsePromText } from './prom-text.js';

const SERIES = [
  'localhost_ops_last_sync_timestamp_seconds',
  'localhost_ops_last_success_timestamp_seconds',
  'localhost_ops_sync_duration_seconds',
  'localhost_ops_up',
  'localhost_ops_held_back',
  'localhost_ops_served_info',
];

function record(over: Partial<SyncRecord> = {}): SyncRecord {
  return {
    at: '2026-03-16 20:29:43',
    status: 'noop',
    sha: 'a1bf'.padEnd(40, '0'),
    targetSha: 'a1bf'.padEnd(40, '0'),
    goodSha: 'a1bf'.padEnd(40, '0'),
    failedSha: '',
    deps: 'skipped',
    durationMs: 412,
    message: 'main a1bf000 is served; nothing to do.',
    ...over,
  };
}

const at = Math.round((parseLocalTime('2026-03-16 20:29:43') as Date).getTime() / 1000);

test('a noop: every series once, labelled site, no timestamp, accepted by the strict parser', () => {
  const text = formatMetrics('my-site.v2', record(), 0);
  const families = parsePromText(text);
  assert.equal([...families.keys()], SERIES);
  for (const f of families.values()) {
    assert.is(f.type, 'gauge', f.name);
    assert.ok(f.help, f.name);
    assert.is(f.samples.length, 1, f.name);
    assert.is(f.samples[0].labels.site, 'my-site.v2');
    assert.is(f.samples[0].timestamp, null);
  }
  const value = (name: string) => families.get(name)?.samples[0].value;
  assert.is(value('localhost_ops_last_sync_timestamp_seconds'), at);
  assert.is(value('localhost_ops_last_success_timestamp_seconds'), at);
  assert.is(value('localhost_ops_sync_duration_seconds'), 0.412);
  assert.is(value('localhost_ops_up'), 1);
  assert.is(families.get('localhost_ops_up')?.samples[0].labels.status, 'noop');
  assert.is(value('localhost_ops_held_back'), 0);
  assert.is(families.get('localhost_ops_served_info')?.samples[0].labels.sha, record().sha);
  assert.not.match(text, /\n\n/);
});

test('rolled-back: held back, not up, and the last success kept from the file before', () => {
  const text = formatMetrics('site', record({ status: 'rolled-back', failedSha: 'b'.repeat(40) }), 1_700_000_000);
  const families = parsePromText(text);
  assert.is(families.get('localhost_ops_up')?.samples[0].value, 0);
  assert.is(families.get('localhost_ops_up')?.samples[0].labels.status, 'rolled-back');
  assert.is(families.get('localhost_ops_held_back')?.samples[0].value, 1);
  assert.is(families.get('localhost_ops_last_success_timestamp_seconds')?.samples[0].value, 1_700_000_000);
  assert.is(readLastSuccess(text, 'site'), 1_700_000_000);
  assert.is(readLastSuccess(null, 'site'), 0);
  assert.is(readLastSuccess(text, 'other'), 0);
});

test('label values are escaped as the format wants', () => {
  assert.is(escapeLabel('a\\b"c\nd'), 'a\\\\b\\"c\\nd');
});

test('the strict parser refuses what the collector would', () => {
  const bad: [string, RegExp][] = [
    ['m 1', /newline/],
    ['m{site="x"} 1 2 3\n', /expected/],
    ['m{site="x"}  1\n', /expected/],
    ['m{site="x} 1\n', /unterminated/],
    ['m{site="a\\qb"} 1\n', /bad escape/],
    ['m{__x="a"} 1\n', /reserved/],
    ['m{a="1",a="2"} 1\n', /twice/],
    ['m{a="1"} one\n', /not a float/],
    ['m 1\nm 2\n', /appears twice/],
    ['m 1\nn 1\nm{a="b"} 2\n', /continues after/],
    ['m 1\n# TYPE m gauge\n', /after its samples/],
    ['# TYPE m gauge\n# TYPE m gauge\n', /second TYPE/],
    ['# TYPE m meter\n', /not a metric type/],
    ['1m 1\n', /no metric name/],
    ['m 1 1.5\n', /not a timestamp/],
  ];
  for (const [text, why] of bad) {
    assert.throws(() => parsePromText(text), why, JSON.stringify(text));
  }
  assert.is(parsePromText('# just a comment\nm{a="x",} +Inf 1700000000000\n').get('m')?.samples[0].timestamp, 1.7e12);
});

test.run();
