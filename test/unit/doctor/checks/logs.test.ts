/** The logs check: which error lines count, from log text given as data. */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { findLogErrors } from '../../../../src/doctor/checks/logs.js';

const units = suite('doctor: log errors');

units('logs: errors since the last good sync or server start, each once', () => {
  const D = '2026-11-22 00:24';
  const found = findLogErrors({
    sync: [
      `${D}:01 [1] health: failed: old`,
      `${D}:02 [2] done: noop sha=a`,
      `${D}:03 [3] preflight: failed: no Node`,
      `${D}:04 [4] preflight: failed: no Node`,
      `${D}:04 [4] done: error sha=a`,
    ],
    server: [
      `${D}:01 [localhost-ops] starting "x"`,
      'boom: before the last good sync',
      `${D}:02 [localhost-ops] starting "x"`,
      'listening',
      `${D}:03 [localhost-ops] starting "x"`,
      'boom: a crash at start',
      `${D}:03 [localhost-ops] server exited with 3`,
      `${D}:03 [localhost-ops] starting "x"`,
      'Error: EADDRINUSE 4321',
    ],
    syncCapture: ['noop: fine', 'localhost-ops: internal error: x'],
    serverCapture: null,
  });
  assert.equal(found, [
    { file: 'sync', lines: [`${D}:04 [4] preflight: failed: no Node`] },
    {
      file: 'server',
      lines: ['boom: a crash at start', `${D}:03 [localhost-ops] server exited with 3`, 'Error: EADDRINUSE 4321'],
    },
    { file: 'syncCapture', lines: ['localhost-ops: internal error: x'] },
  ]);
});

units("logs: a v2 dev server that exited unasked is quoted with its own last words, not the other slot's", () => {
  const D = '2026-11-22 00:24';
  const found = findLogErrors({
    sync: [`${D}:01 [1] done: updated sha=a`],
    server: [
      `${D}:02 [agent] starting slot b at 1234567`,
      `${D}:02 [b 1234567] [localhost-ops] starting "npm run dev" on 127.0.0.1:5000 under Node 22.1.0`,
      `${D}:02 [b 1234567] > site@1.0.0 dev`,
      `${D}:02 [b 1234567] listening on 127.0.0.1:5000`,
      `${D}:03 [agent] slot b: healthy: answered 200 on 127.0.0.1:5000`,
      `${D}:03 [agent] switched to slot b (1234567); draining slot a`,
      `${D}:09 [b 1234567] out of memory, giving up`,
      `${D}:09 [a 89abcde] a line from the drained slot`,
      `${D}:09 [b 1234567] > site@1.0.0 dev`,
      `${D}:09 [b 1234567] [localhost-ops] the dev server exited with exit code 134`,
      `${D}:09 [agent] restarting slot b in 1 s (restart 1)`,
    ],
    syncCapture: null,
    serverCapture: null,
  });
  assert.equal(found, [
    {
      file: 'server',
      lines: [
        `${D}:02 [b 1234567] listening on 127.0.0.1:5000`,
        `${D}:09 [b 1234567] out of memory, giving up`,
        `${D}:09 [b 1234567] [localhost-ops] the dev server exited with exit code 134`,
      ],
    },
  ]);
  // A healthy start, a switch and a drain (stops are not logged as exits) are no error.
  const healthy = findLogErrors({
    sync: [`${D}:01 [1] done: updated sha=a`],
    server: [
      `${D}:02 [agent] pid 7 holds http://127.0.0.1:4321/`,
      `${D}:02 [agent] no live slot yet: waiting for the sync to prepare one`,
      `${D}:02 [a 1234567] [localhost-ops] starting "npm run dev" on 127.0.0.1:5000 under Node 22.1.0`,
      `${D}:03 [a 1234567] listening on 127.0.0.1:5000`,
      `${D}:03 [agent] slot a: healthy: answered 200 on 127.0.0.1:5000`,
      `${D}:03 [agent] switched to slot a (1234567)`,
    ],
    syncCapture: null,
    serverCapture: null,
  });
  assert.equal(healthy, []);
});

units('logs: the old live slot failing while the sync that replaced it ran is history once the new one serves', () => {
  const D = '2026-11-22 00:24';
  const server = [
    `${D}:01 [a 1234567] [localhost-ops] starting "npm run dev" on 127.0.0.1:5000 under Node 22.1.0`,
    `${D}:01 [a 1234567] listening on 127.0.0.1:5000`,
    `${D}:01 [agent] switched to slot a (1234567)`,
    `${D}:04 [a 1234567] Error: ENOENT: no such file or directory, open 'content.txt'`,
    `${D}:04 [a 1234567] [localhost-ops] the dev server exited with exit code 1`,
    `${D}:04 [agent] restarting slot a in 1 s (restart 1)`,
    `${D}:05 [agent] starting slot b at 1234567`,
    `${D}:05 [b 1234567] [localhost-ops] starting "npm run dev" on 127.0.0.1:5001 under Node 22.1.0`,
    `${D}:05 [a 1234567] [localhost-ops] starting "npm run dev" on 127.0.0.1:5002 under Node 22.1.0`,
    `${D}:05 [b 1234567] listening on 127.0.0.1:5001`,
    `${D}:05 [agent] switched to slot b (1234567); draining slot a`,
    `${D}:05 [a 1234567] Error: Cannot find module 'greeting'`,
    `${D}:05 [a 1234567] [localhost-ops] the dev server exited with exit code 1`,
  ];
  const sync = [`${D}:00 [1] done: noop sha=a`, `${D}:05 [2] done: updated sha=a`];
  assert.equal(findLogErrors({ sync, server, syncCapture: null, serverCapture: null }), []);
  // The same lines while slot a still serves (no switch yet, no good sync since): they count.
  const before = findLogErrors({
    sync: sync.slice(0, 1),
    server: server.slice(0, 6),
    syncCapture: null,
    serverCapture: null,
  });
  assert.equal(before, [
    {
      file: 'server',
      lines: [
        `${D}:01 [a 1234567] listening on 127.0.0.1:5000`,
        `${D}:04 [a 1234567] Error: ENOENT: no such file or directory, open 'content.txt'`,
        `${D}:04 [a 1234567] [localhost-ops] the dev server exited with exit code 1`,
      ],
    },
  ]);
});

units.run();
