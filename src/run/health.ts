/**
 * Who holds a site's port, in words: the site's own processes (the server agent runs in
 * the site folder, dev servers in its slots) against anyone else's. Used where the agent
 * itself cannot be asked: install's port check, uninstall, doctor.
 */
import { isInside, type Listener } from '../os/listeners.js';

const DELETED = ' (deleted)';

/**
 * The listener runs from inside the site folder. Linux shows the cwd of a process whose
 * folder was removed with " (deleted)" after it: still ours, left over, to be stopped.
 */
export function isSiteProcess(l: Listener, siteDir: string): boolean {
  if (l.cwd === null) return false;
  const cwd = l.cwd.endsWith(DELETED) ? l.cwd.slice(0, -DELETED.length) : l.cwd;
  return isInside(cwd, siteDir);
}

export function describeListener(l: Listener): string {
  return `pid ${l.pid ?? '?'}${l.command ? ` (${l.command.slice(0, 80)})` : ''}${l.cwd ? ` in ${l.cwd}` : ''}`;
}
