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

units.run();
