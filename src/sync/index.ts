/** `sync`: one realignment now. Thin: the work is in execute.ts. */
import { resolveSite, verifyInstalled } from '../site/store.js';
import { short, getExitCodeFor } from '../site/last-sync.js';
import { performSync, type StatusChangeHook } from './execute.js';
import { UserError } from '../errors.js';
import type { SyncRecord } from '../site/last-sync.js';

export function toJson(rec: SyncRecord) {
  return {
    status: rec.status,
    sha: rec.sha,
    targetSha: rec.targetSha,
    goodSha: rec.goodSha,
    failedSha: rec.failedSha,
    deps: rec.deps,
    durationMs: rec.durationMs,
    message: rec.message,
    at: rec.at,
  };
}

export async function syncCommand(
  argv: { name?: string; force?: boolean; json?: boolean; watch?: boolean },
  onStatusChange?: StatusChangeHook,
): Promise<number> {
  if (argv.watch) {
    if (argv.force || argv.json)
      throw new UserError(
        '--watch runs the sync agent; it takes neither --force nor --json.',
        'Run localhost-ops sync --watch --name NAME alone.',
      );
    return (await import('./watch.js')).watchCommand(argv.name, onStatusChange);
  }
  const site = verifyInstalled(resolveSite(argv.name));
  const tty = process.stderr.isTTY === true && !argv.json;
  const rec = await performSync(site, {
    force: argv.force === true,
    onStatusChange,
    progress: tty ? (m) => process.stderr.write(`  ${m}\n`) : undefined,
  });
  if (argv.json) {
    process.stdout.write(JSON.stringify(toJson(rec)) + '\n');
  } else {
    process.stdout.write(`${rec.status}: ${rec.message} (sha ${short(rec.sha)}, ${rec.durationMs} ms)\n`);
  }
  return getExitCodeFor(rec.status);
}
