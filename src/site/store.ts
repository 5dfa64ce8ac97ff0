/** Where sites are kept: listing, reading back (checked again) and writing config.json, and which site a command means. */
import { readdirSync, existsSync } from 'node:fs';
import { UserError } from '../errors.js';
import { readTextOrNull, writeFileIfChanged } from '../os/fs.js';
import { NAME_RE, getOpsHome, getSitePaths, tildify } from './paths.js';
import { upgradeConfig, verifyName, type Site, type SiteConfig } from './config.js';
import { installCommand } from './fix-commands.js';

export function writeSiteConfig(config: SiteConfig): boolean {
  return writeFileIfChanged(getSitePaths(config.name).config, JSON.stringify(config, null, 2) + '\n', 0o644);
}

export function listSiteNames(opsHome = getOpsHome()): string[] {
  let entries: string[];
  try {
    entries = readdirSync(opsHome);
  } catch {
    return [];
  }
  return entries.filter((n) => NAME_RE.test(n) && existsSync(getSitePaths(n, opsHome).config)).sort();
}

/** The sites whose jobs are installed: an uninstalled site (kept on disk) does not count for name resolution. */
export function listInstalledSiteNames(): string[] {
  return listSiteNames().filter((n) => {
    const config = readSiteConfigOrNull(n);
    return config === null || config.uninstalled !== true;
  });
}

/** The installed config, or null when there is none or it cannot be read. */
export function readSiteConfigOrNull(name: string): SiteConfig | null {
  try {
    return readSiteConfig(name);
  } catch {
    return null;
  }
}

export function readSiteConfig(name: string): SiteConfig {
  const paths = getSitePaths(name);
  const text = readTextOrNull(paths.config);
  if (text === null) {
    const names = listSiteNames();
    throw new UserError(
      `No site named "${name}" is installed${names.length ? ` (installed: ${names.join(', ')})` : ''}.`,
      names.length
        ? `Pass --name ${names[0]}, or install it with localhost-ops install --repo DIR --name ${name}.`
        : `Install it with localhost-ops install --repo DIR --name ${name}.`,
    );
  }
  const fix = `Fix or delete ${tildify(paths.config)}, then run localhost-ops install --repo DIR --name ${name} again.`;
  let data: Partial<SiteConfig>;
  try {
    data = JSON.parse(text) as Partial<SiteConfig>;
  } catch {
    throw new UserError(`${tildify(paths.config)} is not valid JSON.`, fix);
  }
  const ok =
    data &&
    typeof data === 'object' &&
    data.schemaVersion === 1 &&
    data.name === name &&
    typeof data.repo === 'string' &&
    typeof data.port === 'number' &&
    typeof data.host === 'string' &&
    typeof data.remote === 'string' &&
    typeof data.branch === 'string' &&
    typeof data.interval === 'number' &&
    typeof data.command === 'string' &&
    typeof data.service === 'string' &&
    typeof data.healthPath === 'string' &&
    typeof data.healthTimeout === 'number' &&
    (data.paused === undefined || typeof data.paused === 'boolean') &&
    (data.notify === undefined || typeof data.notify === 'boolean') &&
    (data.metricsDir === undefined || typeof data.metricsDir === 'string');
  if (!ok) throw new UserError(`${tildify(paths.config)} is missing fields or has values of the wrong type.`, fix);
  return upgradeConfig(data as SiteConfig);
}

/** A site whose jobs were removed: sync and run would start what uninstall stopped. */
export function verifyInstalled(site: Site): Site {
  if (site.config.uninstalled) {
    throw new UserError(
      `The site "${site.name}" was uninstalled, so nothing may start its server.`,
      `Run ${installCommand(site.config)} to bring it back.`,
    );
  }
  return site;
}

/** Finds the site a command means: --name, or the only one installed. */
export function resolveSite(name?: string): Site {
  if (name !== undefined) {
    verifyName(name);
    return { name, config: readSiteConfig(name), paths: getSitePaths(name) };
  }
  const names = listInstalledSiteNames();
  if (names.length === 0) {
    throw new UserError('No site is installed yet.', 'Run localhost-ops install --repo DIR first.');
  }
  if (names.length > 1) {
    throw new UserError(
      `Several sites are installed (${names.join(', ')}), so the command needs one.`,
      `Pass --name, for example --name ${names[0]}.`,
    );
  }
  return resolveSite(names[0]);
}
