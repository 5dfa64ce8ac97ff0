/**
 * Desktop notifications (DESIGN §11): one when a site's status changes into `rolled-back`
 * or `error`, and one when it comes back; never more than one per change. The sync calls
 * this through its status-change hook, which runs only when the status differs from the
 * last sync's. macOS: osascript; Linux: notify-send where it is on PATH; nothing elsewhere.
 * Text from commits and logs is passed as argv data, never through a shell or a script.
 */
import type { Site } from '../site/config.js';
import { short, type SyncRecord, type SyncStatus } from '../site/last-sync.js';
import { findOnPath } from '../os/fs.js';
import { run } from '../os/exec.js';
import { formatUrl } from '../os/http.js';

export interface Notification {
  title: string;
  body: string;
}

const isFailure = (s: SyncStatus | undefined) => s === 'error' || s === 'rolled-back';

/** Pure: the notification a status change deserves, or null (no change, or a change between two fine states). */
export function planNotification(
  site: string,
  url: string,
  rec: SyncRecord,
  prev: Pick<SyncRecord, 'status'> | null,
): Notification | null {
  if (prev?.status === rec.status) return null;
  const message = rec.message.length > 200 ? `${rec.message.slice(0, 199)}…` : rec.message;
  if (rec.status === 'rolled-back') {
    return {
      title: `${site}: main ${short(rec.failedSha || rec.targetSha)} held back`,
      body: `Still serving ${short(rec.sha)} at ${url}. ${message}`,
    };
  }
  if (rec.status === 'error') {
    return { title: `${site}: the sync failed`, body: `Still serving ${short(rec.sha)} at ${url}. ${message}` };
  }
  if (prev && isFailure(prev.status)) {
    return { title: `${site}: back on main`, body: `Serving ${short(rec.sha)} at ${url}.` };
  }
  return null;
}

/** Pure: the program and argv that show a notification on this platform, or null. */
export function getNotifyCommand(
  n: Notification,
  platform: string,
  find: (name: string) => string | null,
): { file: string; args: string[] } | null {
  if (platform === 'darwin') {
    const osascript = find('osascript');
    // The script is fixed; title and body reach it as `argv` items, never as script text.
    return osascript
      ? {
          file: osascript,
          args: [
            '-e',
            'on run argv',
            '-e',
            'display notification (item 2 of argv) with title (item 1 of argv)',
            '-e',
            'end run',
            n.title,
            n.body,
          ],
        }
      : null;
  }
  const notifySend = find('notify-send');
  // `--` so that a title starting with "-" is not read as an option.
  return notifySend ? { file: notifySend, args: ['--app-name=localhost-ops', '--', n.title, n.body] } : null;
}

export async function notifyOnChange(site: Site, rec: SyncRecord, prev: SyncRecord | null): Promise<void> {
  if (site.config.notify === false) return;
  const n = planNotification(site.name, formatUrl(site.config.host, site.config.port, '/'), rec, prev);
  if (!n) return;
  const command = getNotifyCommand(n, process.platform, (name) => findOnPath(name));
  if (!command) return;
  await run(command.file, command.args, { timeoutMs: 10_000 });
}
