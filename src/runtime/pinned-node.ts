/**
 * The Node a commit runs under, remembered in the deps stamp. A no-op sync reads
 * package.json and the stamp and checks one file exists: no search, no semver, no spawn.
 */
import { dirname } from 'node:path';
import type { SiteConfig } from '../site/config.js';
import type { DepsStamp } from './deps.js';
import type { NodeInstall } from './choose.js';
import { getEngines } from './engines.js';
import { getFileId } from '../os/fs.js';

/** Everything the choice of Node depends on, as one comparable string. */
export function getNodeKey(config: SiteConfig, packageJsonText: string | null, env = process.env): string {
  return JSON.stringify({
    engines: getEngines(packageJsonText),
    pin: config.node,
    envNode: env.LOCALHOST_OPS_NODE ?? null,
  });
}

export async function getNodeFor(
  config: SiteConfig,
  packageJsonText: string | null,
  stamp: DepsStamp | null,
): Promise<{ node: NodeInstall; key: string }> {
  const key = getNodeKey(config, packageJsonText);
  if (stamp && stamp.nodeKey === key && stamp.nodeId && getFileId(stamp.nodeBin) === stamp.nodeId) {
    return {
      key,
      node: {
        bin: stamp.nodeBin,
        binDir: dirname(stamp.nodeBin),
        version: stamp.nodeVersion,
        npmVersion: stamp.npmVersion,
        source: 'stamp',
      },
    };
  }
  const { resolveNode } = await import('./choose.js');
  return { key, node: await resolveNode(getEngines(packageJsonText), { pin: config.node }) };
}
