/**
 * The process backend's stand-in for launchd's StartInterval: run a program now and then
 * every `seconds`, a fresh process each time, as launchd would. A run still going when the
 * next is due delays it rather than overlapping.
 */
import { run, sleep } from '../../os/exec.js';

export async function runEvery(seconds: number, argv: string[], logFile: string): Promise<never> {
  const [file, ...args] = argv;
  for (;;) {
    const start = Date.now();
    try {
      await run(file, args, { logFile, allowFail: true });
    } catch {
      // a program that cannot start is retried next interval, like launchd does
    }
    const wait = Math.max(1000, seconds * 1000 - (Date.now() - start));
    await sleep(wait);
  }
}
