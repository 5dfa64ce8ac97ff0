/** The health verdict as a table: the probe's answer and who listens on the port. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { judgeHealth } from '../../../src/run/health.js';
import type { Listener } from '../../../src/os/listeners.js';

const MIRROR = '/home/me/ops-local/site/localhost-worktree';
const URL = 'http://127.0.0.1:4321/';
const at = (cwd: string | null, pid = 100): Listener => ({
  pid,
  address: '127.0.0.1',
  port: 4321,
  cwd,
  command: 'node server.js',
});

test('judgeHealth: below 500 from the mirror passes; anything else fails, and says why', () => {
  const rows: [number | null, Listener[], boolean, boolean, RegExp][] = [
    [200, [at(MIRROR)], true, false, /answered 200/],
    [404, [at(`${MIRROR}/sub`)], true, false, /answered 404/],
    [500, [at(MIRROR)], false, false, /answered 500/],
    [null, [], false, false, /did not answer/],
    [
      200,
      [at('/home/me/dev/site', 7)],
      false,
      true,
      /served by pid 7 .* in \/home\/me\/dev\/site, not by the mirror's server/,
    ],
    // A dev server that moved to another port leaves the foreign listener behind on ours.
    [200, [at('/elsewhere', 8), at(null, 9)], false, true, /served by pid 8/],
    // A server left from a deleted mirror folder is ours to restart, not another program.
    [200, [at(`${MIRROR} (deleted)`)], false, false, /not by the mirror's server/],
    // The system would not say who listens: trust the answer rather than restart every minute.
    [200, [at(null)], true, false, /could not be identified/],
    [200, [], true, false, /could not be identified/],
  ];
  for (const [status, listeners, healthy, foreign, reason] of rows) {
    const r = judgeHealth(status, status === null ? 'ECONNREFUSED' : null, listeners, MIRROR, URL);
    const what = `${status} ${JSON.stringify(listeners.map((l) => l.cwd))}`;
    assert.is(r.healthy, healthy, what);
    assert.is(r.foreign, foreign, what);
    assert.match(r.reason, reason, what);
  }
});

test.run();
