/** The health gate's verdict as a table: what the probe saw and where the started process listens. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { judgeGate, pickCause, ERROR_GRACE_MS, ELSEWHERE_GRACE_MS, type GateLook } from '../../../src/run/gate.js';
import { isSiteProcess } from '../../../src/run/health.js';
import type { Listener } from '../../../src/os/listeners.js';

const S = { healthPath: '/', healthTimeoutS: 60, suggestion: 'npm run dev -- --hostname {host} --port {port}' };
const base: GateLook = {
  port: 4100,
  exit: null,
  tail: [],
  status: 200,
  probeError: null,
  own: [{ address: '127.0.0.1', port: 4100 }],
  erroringMs: null,
  elsewhereMs: null,
  pastDeadline: false,
};

test('judgeGate: below 500 from its own process passes; anything else waits or fails, and says whose fault', () => {
  const rows: [Partial<GateLook>, string, RegExp | null][] = [
    [{}, 'pass', /answered 200 on 127\.0\.0\.1:4100/],
    [{ status: 404 }, 'pass', /answered 404/],
    // A page that answers 500 may still be compiling: it gets a grace period, then fails main.
    [{ status: 500, erroringMs: 0 }, 'wait', null],
    [{ status: 500, erroringMs: ERROR_GRACE_MS }, 'fail commit', /\/ answered 500/],
    [{ status: null, probeError: 'ECONNREFUSED', own: [] }, 'wait', null],
    [
      { status: null, probeError: 'ECONNREFUSED', own: [], pastDeadline: true },
      'fail commit',
      /did not answer \(ECONNREFUSED\) within 60 s/,
    ],
    [
      { exit: 'exit code 3', tail: ['a', 'boom'] },
      'fail commit',
      /exited with exit code 3 before it answered: a \| boom/,
    ],
    // Someone else answers on our port: never trusted, and not main's fault.
    [
      { own: [{ address: '127.0.0.1', port: 5173 }] },
      'fail environment',
      /another program answers on the inner port 4100/,
    ],
    // A dev server that moved elsewhere: the command's fault, named with the --command that fixes it.
    [{ status: null, own: [{ address: '127.0.0.1', port: 5173 }], elsewhereMs: 0 }, 'wait', null],
    [
      { status: null, own: [{ address: '127.0.0.1', port: 5173 }], elsewhereMs: ELSEWHERE_GRACE_MS },
      'fail command',
      /listens on 127\.0\.0\.1:5173, not on 127\.0\.0\.1:4100.*--command 'npm run dev -- --hostname \{host\} --port \{port\}'/,
    ],
    // The right port on the wrong address (127.0.0.2, or ::1 for "localhost") is elsewhere too.
    [
      { status: null, own: [{ address: '::1', port: 4100 }], elsewhereMs: ELSEWHERE_GRACE_MS },
      'fail command',
      /listens on \[::1\]:4100/,
    ],
    // A wildcard listener answers 127.0.0.1: that is where it was told.
    [{ own: [{ address: '0.0.0.0', port: 4100 }] }, 'pass', /answered 200/],
    // The OS would not say who listens: trust the answer rather than fail every start.
    [{ own: null }, 'pass', /answered 200/],
    // Known to listen nowhere yet, while something answers on its port: that is someone else.
    [{ own: [] }, 'fail environment', /another program answers on the inner port 4100/],
  ];
  for (const [over, want, reason] of rows) {
    const v = judgeGate({ ...base, ...over }, S);
    const got = v.kind === 'fail' ? `fail ${v.blame}` : v.kind;
    assert.is(got, want, JSON.stringify(over));
    if (reason && v.kind !== 'wait') assert.match(v.reason, reason, JSON.stringify(over));
  }
});

test("pickCause: Node's Error line rather than the stack and version after it", () => {
  const crash = [
    'node:internal/modules/cjs/loader:1228',
    '  throw err;',
    "Error: Cannot find module 'greeting'",
    'Require stack:',
    '- /site/server.js',
    '    at Module._resolveFilename (node:internal/modules/cjs/loader:1225:15) {',
    "  code: 'MODULE_NOT_FOUND',",
    '}',
    'Node.js v20.20.2',
  ];
  assert.is(pickCause(crash), "Error: Cannot find module 'greeting'");
  assert.is(pickCause(['TypeError: x is not a function', 'Node.js v22.1.0']), 'TypeError: x is not a function');
  assert.is(
    pickCause(['> node server.js', 'boom: CRASH marker present']),
    '> node server.js | boom: CRASH marker present',
  );
});

test('pickCause: the message a bundler puts after its Error line; no stack frames in the fallback', () => {
  const vite = [
    'Error: Build failed with 1 error:',
    'vite.config.js:3:0: ERROR: Expected identifier',
    '    at failureErrorWithLog (x.js:1:1)',
  ];
  assert.is(pickCause(vite), 'Error: Build failed with 1 error: vite.config.js:3:0: ERROR: Expected identifier');
  const astro = [
    '[config] Unable to load your Astro config',
    '    at TransformPluginContext._formatLog (x.js:1:1)',
    '    at y (z.js:2:2)',
  ];
  assert.is(pickCause(astro), '[config] Unable to load your Astro config');
});

test('isSiteProcess: a listener running from the site folder, a deleted copy included', () => {
  const at = (cwd: string | null): Listener => ({ pid: 1, address: '127.0.0.1', port: 4321, cwd, command: null });
  const site = '/home/me/ops-local/site';
  const rows: [string | null, boolean][] = [
    [site, true],
    [`${site}/slots/a`, true],
    [`${site}/slots/b (deleted)`, true],
    ['/home/me/dev/site', false],
    [`${site}-other`, false],
    [null, false],
  ];
  for (const [cwd, want] of rows) assert.is(isSiteProcess(at(cwd), site), want, String(cwd));
});

test.run();
