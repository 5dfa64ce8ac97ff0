/** Where sites are kept: listing, reading back (checked again) and writing config.json, and which site a command means. */
import { readdirSync, existsSync, statSync } from 'node:fs';
import { dirname, isAbsolute } from 'node:path';
import { ConfigError, UserError } from '../errors.js';
import { readTextOrNull, writeFileIfChanged } from '../os/fs.js';
import { NAME_RE, getOpsHome, getSitePaths, tildify } from './paths.js';
import { SERVICES, verifyConfig, verifyName, type ServiceKind, type Site, type SiteConfig } from './config.js';
import { installCommand } from './fix-commands.js';

export function writeSiteConfig(config: SiteConfig): boolean {
  return writeFileIfChanged(getSitePaths(config.name).config, JSON.stringify(config, null, 2) + '\n', 0o644);
}

/**
 * The tool's home is a folder, or can become one (install, before it creates the site
 * folder): the deepest part of its path that exists must be a folder, or that mkdir fails
 * with ENOTDIR.
 */
export function verifyOpsHome(home = getOpsHome(), fromEnv = Boolean(process.env.LOCALHOST_OPS_HOME)): void {
  for (let path = home; ; path = dirname(path)) {
    let isDir: boolean;
    try {
      isDir = statSync(path).isDirectory();
    } catch {
      if (dirname(path) === path) return;
      continue;
    }
    if (isDir) return;
    const what = fromEnv ? `LOCALHOST_OPS_HOME ${tildify(home)}` : `The tool's home ${tildify(home)}`;
    throw new UserError(
      path === home ? `${what} is a file, not a folder.` : `${what} cannot be a folder: ${tildify(path)} is a file.`,
      fromEnv
        ? 'Set LOCALHOST_OPS_HOME to a folder, or unset it to use ~/ops-local.'
        : 'Move that file away, or set LOCALHOST_OPS_HOME to a folder.',
    );
  }
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
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    throw new ConfigError(
      `${tildify(paths.config)} is not valid JSON.`,
      `Fix or delete ${tildify(paths.config)}, then run localhost-ops install --repo DIR --name ${name} again.`,
      paths.config,
    );
  }
  // install's own rules, on every load (DESIGN §3): a hand edit is never trusted.
  return verifyConfig(data, name, paths.config);
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
  const found = resolveSiteName(name);
  return { name: found, config: readSiteConfig(found), paths: getSitePaths(found) };
}

/** The name a command means, without reading its config: --name (checked), or the only one installed. */
export function resolveSiteName(name?: string): string {
  if (name !== undefined) return verifyName(name);
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
  return names[0];
}

/** The few fields uninstall needs from a config.json that failed its checks: each only when it reads right. */
export interface LooseConfig {
  service: ServiceKind | null;
  port: number | null;
  repo: string | null;
}

/** Reads a broken config.json field by field, trusting none of it beyond its own test. */
export function readConfigLoosely(name: string): LooseConfig {
  let data: unknown;
  try {
    data = JSON.parse(readTextOrNull(getSitePaths(name).config) ?? 'null');
  } catch {
    data = null;
  }
  const d = (data && typeof data === 'object' ? data : {}) as Record<string, unknown>;
  const service = SERVICES.find((s) => s !== 'auto' && s === d.service) as ServiceKind | undefined;
  const port =
    Number.isInteger(d.port) && (d.port as number) >= 1 && (d.port as number) <= 65535 ? (d.port as number) : null;
  const repo = typeof d.repo === 'string' && isAbsolute(d.repo) ? d.repo : null;
  return { service: service ?? null, port, repo };
}
