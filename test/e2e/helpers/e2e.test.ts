/** The e2e() wrapper itself: whatever the test does, its fixture's processes and folder are gone after it. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runE2e } from '../../helpers/e2e.js';
import type { Fixture } from '../../helpers/fixture.js';
import { isAlive, spawnDetached } from '../../helpers/proc.js';

/** A process of the fixture's that would outlive the test if nobody ended it. */
function startSleeper(fx: Fixture): number {
  const logFile = join(fx.root, 'sleeper.log');
  return spawnDetached(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { cwd: fx.root, env: fx.env, logFile });
}

test('a test that hangs fails at its deadline, and its processes and folder are gone', async () => {
  let root = '';
  let pid = 0;
  let error: Error | null = null;
  try {
    await runE2e(
      'hangs',
      async (fx) => {
        root = fx.root;
        pid = startSleeper(fx);
        await new Promise(() => undefined);
      },
      { timeoutMs: 15_000 },
    );
  } catch (err) {
    error = err as Error;
  }
  assert.match(error?.message ?? 'no error', /^"hangs" timed out after 15000 ms$/);
  assert.ok(root !== '' && !existsSync(root), `the fixture folder ${root} is removed`);
  assert.ok(pid > 0 && !isAlive(pid), `pid ${pid} is ended`);
});

test('a test that fails fails with its own error, and is cleaned up the same', async () => {
  let root = '';
  let pid = 0;
  let error: Error | null = null;
  try {
    await runE2e(
      'fails',
      async (fx) => {
        root = fx.root;
        pid = startSleeper(fx);
        assert.is(fx.port > 0 && existsSync(join(fx.canonical, '.git')), true, 'a real fixture');
        assert.is(readFileSync(join(fx.upstream, 'content.txt'), 'utf8'), 'custom content\n');
        throw new Error('boom');
      },
      { content: 'custom content', timeoutMs: 60_000 },
    );
  } catch (err) {
    error = err as Error;
  }
  assert.is(error?.message, 'boom');
  assert.ok(root !== '' && !existsSync(root), `the fixture folder ${root} is removed`);
  assert.ok(pid > 0 && !isAlive(pid), `pid ${pid} is ended`);
});

test.run();
