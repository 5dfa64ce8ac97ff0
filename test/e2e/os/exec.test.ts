/** The one spawn wrapper turns every failure into one sentence. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from '../../../src/os/exec.js';
import { OpsError } from '../../../src/errors.js';

async function failure(p: Promise<unknown>): Promise<OpsError> {
  try {
    await p;
  } catch (err) {
    assert.instance(err, OpsError);
    return err as OpsError;
  }
  throw new Error('expected a rejection');
}

test('a missing program, a missing folder, a timeout and a failure each read as a sentence', async () => {
  const missing = await failure(run('no-such-program-xyz', ['--x']));
  assert.match(missing.message, /"no-such-program-xyz" was not found on PATH\./);
  assert.match(missing.fix, /Install no-such-program-xyz/);

  const noDir = await failure(run('git', ['status'], { cwd: '/nonexistent/clone' }));
  assert.match(noDir.message, /git status could not run: the folder \/nonexistent\/clone does not exist\./);

  const slow = await failure(run(process.execPath, ['-e', 'setTimeout(() => {}, 10000)'], { timeoutMs: 200 }));
  assert.match(slow.message, /timed out after 0 s|timed out after/);

  const dir = mkdtempSync(join(tmpdir(), 'lops-proc-'));
  try {
    const bad = await failure(run('git', ['-c', 'core.hooksPath=/dev/null', 'rev-parse', 'HEAD'], { cwd: dir }));
    assert.match(bad.message, /^git rev-parse exited with 128: fatal: not a git repository/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('allowFail resolves with the exit code and the output', async () => {
  const r = await run(
    process.execPath,
    ['-e', 'process.stdout.write("out"); process.stderr.write("err"); process.exit(3)'],
    { allowFail: true },
  );
  assert.equal(r, { code: 3, stdout: 'out', stderr: 'err' });
});

test.run();
