/**
 * One end-to-end test that owns its fixture:
 *
 *   e2e(test, 'a merged PR is served after sync', async (fx) => { ... }, { content: 'first' });
 *
 * registers `title` on the uvu suite (or `test`), builds a fresh fixture (forge, clone,
 * upstream, HOME, free port; `content` is the site's first page), passes it to `fn`, and
 * always ends it with `fx.cleanup()`: every process under the fixture is stopped by pid
 * and its folder removed, whether `fn` passed, threw or ran out of time. uvu has no
 * timeouts, so the whole test (fixture included) fails after `timeoutMs` (default 120 s)
 * instead of hanging the run.
 */
import type { Test } from 'uvu';
import { createFixture, type Fixture } from './fixture.js';

export interface E2eOptions {
  /** The tiny site's content.txt on the first commit (default "hello from main"). */
  content?: string;
  /** The test, building the fixture included, fails after this long (default 120 000 ms); cleanup runs after. */
  timeoutMs?: number;
}

export const E2E_TIMEOUT_MS = 120_000;

export function e2e(suite: Test, title: string, fn: (fx: Fixture) => Promise<void>, opts: E2eOptions = {}): void {
  suite(title, () => runE2e(title, fn, opts));
}

/** The body of one e2e test, exported so that the wrapper itself can be tested. */
export async function runE2e(title: string, fn: (fx: Fixture) => Promise<void>, opts: E2eOptions = {}): Promise<void> {
  const ms = opts.timeoutMs ?? E2E_TIMEOUT_MS;
  let fx: Fixture | null = null;
  let timedOut = false;
  let timer: NodeJS.Timeout | undefined;
  const body = (async () => {
    const created = await createFixture(opts.content);
    // Created after the deadline: nobody waits for it any more, so end it right here.
    if (timedOut) return created.cleanup();
    fx = created;
    await fn(created);
  })();
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      timedOut = true;
      reject(new Error(`"${title}" timed out after ${ms} ms`));
    }, ms);
  });
  try {
    // race() listens to `body` too, so its late failure after a timeout is not unhandled.
    await Promise.race([body, deadline]);
  } finally {
    clearTimeout(timer);
    const made = fx as Fixture | null;
    if (made) await made.cleanup();
  }
}
