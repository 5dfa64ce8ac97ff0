/** How a child ended and what git's stderr says, read as data (src/os/exec.ts, src/os/git.ts). */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { constants } from 'node:os';
import { getExitCode } from '../../../src/os/exec.js';
import { getGitErrorKind, getGitErrorLines } from '../../../src/os/git.js';
import type { GitErrorKind } from '../../../src/errors.js';

test('an exit code is the code, or 128 + the number of the signal that ended the child', () => {
  const cases: [number | null | undefined, string | null | undefined, number][] = [
    [0, null, 0],
    [1, null, 1],
    [3, undefined, 3],
    [128, null, 128],
    [null, 'SIGHUP', 129],
    [null, 'SIGINT', 130],
    [null, 'SIGKILL', 137],
    [null, 'SIGTERM', 143],
    [undefined, 'SIGSEGV', 128 + constants.signals.SIGSEGV],
    [null, 'SIGUSR1', 128 + constants.signals.SIGUSR1],
    [null, 'SIGPIPE', 128 + constants.signals.SIGPIPE],
    // A code wins over a signal; a signal this platform does not know, and neither, still give a failure.
    [2, 'SIGTERM', 2],
    [null, 'SIGNOPE', 128],
    [null, null, 1],
    [undefined, undefined, 1],
  ];
  for (const [code, signal, want] of cases) assert.is(getExitCode(code, signal), want, `${code} ${signal}`);
});

test("what kind of failure git's stderr reports", () => {
  const cases: [string, GitErrorKind][] = [
    ["fatal: couldn't find remote ref refs/heads/nope\n", 'no-such-ref'],
    ['error: Server does not allow request for unadvertised object abc\nfatal: not our ref abc\n', 'no-such-ref'],
    [
      "error: cannot lock ref 'refs/remotes/origin/main': Unable to create '/r/.git/refs/remotes/origin/main.lock': File exists.\n",
      'ref-lock',
    ],
    [
      "error: cannot lock ref 'refs/remotes/origin/main': is at 1111111 but expected 2222222\n ! 2222222..3333333  main -> origin/main  (unable to update local ref)\n",
      'ref-lock',
    ],
    [
      "fatal: unable to access 'https://forge.example/site.git/': Could not resolve host: forge.example\n",
      'unreachable',
    ],
    [
      "fatal: unable to access 'http://127.0.0.1:9/site.git/': Failed to connect to 127.0.0.1 port 9 after 0 ms: Couldn't connect to server\n",
      'unreachable',
    ],
    [
      'ssh: connect to host forge.example port 22: Connection refused\nfatal: Could not read from remote repository.\n',
      'unreachable',
    ],
    ["fatal: '/gone/forge.git' does not appear to be a git repository\n", 'unreachable'],
    ['ssh: connect to host forge.example port 22: Connection timed out\n', 'unreachable'],
    ['ssh: connect to host forge.example port 22: Network is unreachable\n', 'unreachable'],
    ['fatal: not a git repository (or any of the parent directories): .git\n', 'other'],
    ['', 'other'],
  ];
  for (const [stderr, want] of cases) assert.is(getGitErrorKind(stderr), want, stderr);
});

test("git's own error lines, not its advice; the last lines when it printed none", () => {
  assert.is(
    getGitErrorLines(
      "From /forge\n = [up to date]      main       -> origin/main\nfatal: couldn't find remote ref refs/heads/nope\n",
    ),
    "fatal: couldn't find remote ref refs/heads/nope",
  );
  assert.is(
    getGitErrorLines('error: one\nhint: do this\nerror: two\nerror: three\n'),
    'error: one error: two',
    'at most two of them',
  );
  assert.is(getGitErrorLines('warning: a\nsomething odd\nand more\n'), 'something odd and more');
  assert.is(getGitErrorLines(''), '');
});

test.run();
