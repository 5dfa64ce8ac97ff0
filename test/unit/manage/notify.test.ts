/** Which status changes notify, and how the text reaches the notifier: as argv data. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { getNotifyCommand, planNotification } from '../../../src/manage/notify.js';
import type { SyncRecord, SyncStatus } from '../../../src/site/last-sync.js';

const SHA = 'a'.repeat(40);
const BAD = 'b'.repeat(40);

function rec(status: SyncStatus, message = 'what happened'): SyncRecord {
  return {
    at: '2026-03-16 20:29:43',
    status,
    sha: SHA,
    targetSha: BAD,
    goodSha: SHA,
    failedSha: status === 'rolled-back' ? BAD : '',
    deps: 'skipped',
    durationMs: 1,
    message,
  };
}

const URL = 'http://127.0.0.1:4321/';

test('a notification exactly when the status changes into a failure, or out of one', () => {
  const table: [SyncStatus | null, SyncStatus, string | null][] = [
    [null, 'updated', null],
    [null, 'noop', null],
    [null, 'error', 'site: the sync failed'],
    [null, 'rolled-back', 'site: main bbbbbbb held back'],
    ['noop', 'updated', null],
    ['updated', 'noop', null],
    ['noop', 'rolled-back', 'site: main bbbbbbb held back'],
    ['noop', 'error', 'site: the sync failed'],
    ['rolled-back', 'rolled-back', null],
    ['error', 'error', null],
    ['error', 'rolled-back', 'site: main bbbbbbb held back'],
    ['rolled-back', 'error', 'site: the sync failed'],
    ['rolled-back', 'updated', 'site: back on main'],
    ['rolled-back', 'noop', 'site: back on main'],
    ['error', 'noop', 'site: back on main'],
  ];
  for (const [prev, now, title] of table) {
    const n = planNotification('site', URL, rec(now), prev ? { status: prev } : null);
    assert.is(n?.title ?? null, title, `${prev} → ${now}`);
  }
});

test('the body names what serves and cuts a long message', () => {
  const n = planNotification('site', URL, rec('rolled-back', 'x'.repeat(500)), { status: 'noop' });
  assert.ok(n?.body.startsWith(`Still serving aaaaaaa at ${URL}. xxx`));
  assert.ok((n?.body.length ?? 0) < 260);
  assert.ok(n?.body.endsWith('…'));
});

test('notify-send and osascript get the text as separate arguments; nothing without a notifier', () => {
  const n = { title: '-t $(rm -rf ~)', body: '`touch x`; "q"' };
  const found = (name: string) => `/usr/bin/${name}`;
  assert.equal(getNotifyCommand(n, 'linux', found), {
    file: '/usr/bin/notify-send',
    args: ['--app-name=localhost-ops', '--', n.title, n.body],
  });
  const mac = getNotifyCommand(n, 'darwin', found);
  assert.is(mac?.file, '/usr/bin/osascript');
  // The script is fixed text; title and body are its argv, after it.
  assert.equal(mac?.args.slice(-2), [n.title, n.body]);
  assert.not.ok(
    mac?.args.slice(0, -2).some((a) => a.includes('rm -rf') || a.includes('touch')),
    'no text inside the script',
  );
  assert.is(
    getNotifyCommand(n, 'linux', () => null),
    null,
  );
  assert.is(
    getNotifyCommand(n, 'darwin', () => null),
    null,
  );
});

test.run();
