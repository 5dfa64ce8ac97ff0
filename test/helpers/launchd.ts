/** Reading a plist, and a site as getJobSpecs sees it, for the launchd tests (pure: no process). */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'plist';
import { getSitePaths } from '../../src/site/paths.js';
import type { Site, SiteConfig } from '../../src/site/config.js';

export type Dict = Record<string, unknown>;

export function readPlist(path: string): Dict {
  return parse(readFileSync(path, 'utf8')) as Dict;
}

/** Just what getJobSpecs reads of a site, with the job context install would record. */
export function siteFor(
  opsHome: string,
  name = 'site',
  interval = 3600,
  env: Record<string, string> = { HOME: '/Users/me' },
  tool = '/opt/localhost-ops',
  pinnedBinDir = '/opt/node@22/bin',
): Site {
  const jobs = {
    node: '/usr/local/bin/node',
    entry: join(tool, 'bin', 'localhost-ops.js'),
    pinnedBinDir,
    pathDirs: ['/usr/local/bin', '/usr/bin'],
    env,
  };
  const config = { name, interval, service: 'launchd', jobs } as SiteConfig;
  return { name, config, paths: getSitePaths(name, opsHome) };
}
