/** `open`: the site's URL in the browser, through `open` (macOS) or `xdg-open`. */
import { resolveSite } from '../site/store.js';
import { findOnPath } from '../os/fs.js';
import { formatUrl } from '../os/http.js';
import { run } from '../os/exec.js';
import { OpsError } from '../errors.js';

/** Pure: which opener to use, in order of preference for the platform. */
export function getOpeners(platform: string): string[] {
  return platform === 'darwin' ? ['open', 'xdg-open'] : ['xdg-open', 'open'];
}

export async function openCommand(argv: { name?: string }): Promise<number> {
  const site = resolveSite(argv.name);
  const url = formatUrl(site.config.host, site.config.port, '/');
  const opener = getOpeners(process.platform)
    .map((name) => findOnPath(name))
    .find((p): p is string => p !== null);
  if (!opener) {
    throw new OpsError(
      `Neither open nor xdg-open is on PATH, so no browser can be opened here.`,
      `Open ${url} in your browser yourself.`,
    );
  }
  // The URL is one argument: nothing goes through a shell.
  await run(opener, [url], { timeoutMs: 15_000 });
  process.stdout.write(`Opened ${url}\n`);
  return 0;
}
