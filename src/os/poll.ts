/** The one poll-until-deadline loop: check, wait, check again, until true or the time is up. */
import { sleep } from './exec.js';

/** Resolves true as soon as check() does, false once timeoutMs passed without it. */
export async function pollUntil(
  check: () => Promise<boolean> | boolean,
  timeoutMs: number,
  everyMs = 100,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() >= deadline) return false;
    await sleep(Math.min(everyMs, Math.max(0, deadline - Date.now())));
  }
}
