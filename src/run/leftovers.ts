/**
 * Dev servers a killed agent left behind (DESIGN §9): a `kill -9` of the agent leaves its
 * children running in their own process groups, holding inner ports and slot folders.
 */
import type { SitePaths } from '../site/paths.js';
import { SLOTS } from '../site/paths.js';
import { isAlive, stopGroup } from '../os/exec.js';
import { getProcessCwd, isInside } from '../os/listeners.js';
import type { AgentStatus } from './protocol.js';

/** Ends each server the previous agent recorded whose folder is inside a slot; says what it ended. */
export async function endLeftoverServers(paths: SitePaths, old: AgentStatus | null): Promise<string[]> {
  if (!old?.slots || old.pid === process.pid) return [];
  const ended: string[] = [];
  for (const slot of SLOTS) {
    const pid = old.slots[slot]?.pid;
    if (typeof pid !== 'number' || !isAlive(pid)) continue;
    const cwd = await getProcessCwd(pid);
    // Only a process that runs from inside a slot: a reused pid belongs to someone else.
    if (cwd && isInside(cwd.replace(/ \(deleted\)$/, ''), paths.slotsDir)) {
      await stopGroup(pid, 3000);
      ended.push(`ended dev server pid ${pid} left in slot ${slot} by a previous agent`);
    }
  }
  return ended;
}
