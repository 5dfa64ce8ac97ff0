/** `restart`: the live dev server restarted through a swap, with no failed request (DESIGN §1). */
import { resolveSite, verifyInstalled } from '../site/store.js';
import { short } from '../site/last-sync.js';
import { formatUrl } from '../os/http.js';
import { OpsError } from '../errors.js';
import { noteWhileWaiting } from '../sync/index.js';
import { restartThroughSwap } from '../sync/swap.js';

export async function restartCommand(argv: { name?: string }): Promise<number> {
  const site = verifyInstalled(resolveSite(argv.name));
  const tty = process.stderr.isTTY === true;
  const waiting = noteWhileWaiting(site, (line) => process.stderr.write(`localhost-ops: ${line}\n`));
  let result;
  try {
    result = await restartThroughSwap(site, {
      onLocked: () => waiting.stop(),
      progress: tty ? (m) => process.stderr.write(`  ${m}\n`) : undefined,
    });
  } finally {
    waiting.stop();
  }
  const url = formatUrl(site.config.host, site.config.port, '/');
  if (!result.ok) {
    throw new OpsError(
      `The restart of "${site.name}" failed: ${result.reason.replace(/[.]?$/, '.')}${result.live ? ` Slot ${result.live} keeps serving${result.sha ? ` ${short(result.sha)}` : ''}.` : ''}`,
      `See localhost-ops logs --name ${site.name}, or run localhost-ops doctor --name ${site.name}.`,
    );
  }
  process.stdout.write(
    `Restarted "${site.name}": a fresh dev server (slot ${result.live}) serves ${short(result.sha)} at ${url}.\n`,
  );
  return 0;
}
