/** A site's config.json: what install was told, validated and resolved to absolute paths. */
import { readdirSync, existsSync } from 'node:fs';
import { isIP } from 'node:net';
import { resolve } from 'node:path';
import { UserError } from './errors.js';
import { NAME_RE, getOpsHome, getSitePaths, getDefaultName, tildify, type SitePaths } from './paths.js';
import { readTextOrNull, writeFileIfChanged } from './fsutil.js';

export const SERVICES = ['auto', 'launchd', 'systemd', 'process'] as const;
export type ServiceChoice = (typeof SERVICES)[number];
export type ServiceKind = Exclude<ServiceChoice, 'auto'>;
export const DEFAULT_COMMAND = 'npm run dev -- --host {host} --port {port}';

export interface SiteConfig {
  schemaVersion: 1;
  name: string;
  repo: string;
  remote: string;
  branch: string;
  host: string;
  port: number;
  interval: number;
  command: string;
  node: string | null;
  service: ServiceKind;
  healthPath: string;
  healthTimeout: number;
  restart: 'always';
  allowRemote: boolean;
  /** Absent until install records it; specs then fall back to the running process. */
  jobs?: JobContext;
  /** Set by uninstall (without --purge): the site stays on disk, but nothing may start its server. */
  uninstalled?: true;
}

/** What the jobs run with, as install recorded it (service/jobs.ts getJobContext). */
export interface JobContext {
  node: string;
  entry: string;
  /** The bin folder of the Node main was pinned to at install: first on the jobs' PATH. */
  pinnedBinDir: string;
  pathDirs: string[];
  env: Record<string, string>;
}

export interface Site {
  name: string;
  config: SiteConfig;
  paths: SitePaths;
}

/** Raw install flags as yargs hands them over (strings and numbers not yet trusted). */
export interface InstallFlags {
  repo: string;
  name?: string;
  port?: unknown;
  host?: string;
  remote?: string;
  branch?: string;
  interval?: unknown;
  command?: string;
  node?: string;
  service?: string;
  healthPath?: string;
  healthTimeout?: unknown;
  restart?: string;
  allowRemote?: boolean;
}

export function verifyName(name: string): string {
  if (!NAME_RE.test(name)) {
    throw new UserError(
      `"${name}" is not a valid site name.`,
      'Use --name with lower-case letters, digits, ".", "_" or "-" (up to 63, starting with a letter or digit).',
    );
  }
  return name;
}

function toInt(value: unknown, flag: string, min: number, max: number, unit = ''): number {
  const text = String(value).trim();
  const n = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new UserError(`--${flag} must be a whole number from ${min} to ${max}${unit}, not "${text}".`, `Pass --${flag} ${min}..${max}.`);
  }
  return n;
}

export function isLoopbackHost(host: string): boolean {
  if (host === '::1') return true;
  return isIP(host) === 4 && host.startsWith('127.');
}

/** Turns install flags into a config. Pure: it checks values, not the world. */
export function parseInstallFlags(flags: InstallFlags, platform = process.platform): SiteConfig {
  if (!flags.repo) throw new UserError('install needs the site repository.', 'Pass --repo DIR, the path of your clone.');
  const repo = resolve(flags.repo);
  const name = verifyName(flags.name ?? getDefaultName(repo));
  const host = flags.host ?? '127.0.0.1';
  const allowRemote = flags.allowRemote === true;
  if (!isIP(host)) {
    throw new UserError(`--host must be an IP address, not "${host}".`, 'Pass --host 127.0.0.1 (a name such as localhost may resolve to ::1).');
  }
  if (!isLoopbackHost(host) && !allowRemote) {
    throw new UserError(`--host ${host} is not a loopback address, so the mirror would be reachable from the network.`, 'Use --host 127.0.0.1, or add --allow-remote if that is what you want.');
  }
  const service = (flags.service ?? 'auto') as ServiceChoice;
  if (!SERVICES.includes(service)) {
    throw new UserError(`--service must be one of ${SERVICES.join(', ')}, not "${flags.service}".`, 'Pass --service auto.');
  }
  const healthPath = flags.healthPath ?? '/';
  if (!healthPath.startsWith('/') || /\s/.test(healthPath)) {
    throw new UserError(`--health-path must start with "/" and hold no spaces, not "${healthPath}".`, 'Pass --health-path /.');
  }
  const restart = flags.restart ?? 'always';
  if (restart !== 'always') {
    throw new UserError(`--restart ${restart} is not supported yet.`, 'Pass --restart always (the default).');
  }
  const command = flags.command ?? DEFAULT_COMMAND;
  if (!command.trim() || /[\r\n]/.test(command)) {
    throw new UserError('--command must be one non-empty line.', `Pass --command "${DEFAULT_COMMAND}".`);
  }
  return {
    schemaVersion: 1,
    name,
    repo,
    remote: verifyRefName(flags.remote ?? 'origin', 'remote'),
    branch: verifyRefName(flags.branch ?? 'main', 'branch'),
    host,
    port: toInt(flags.port ?? 4321, 'port', 1, 65535),
    interval: toInt(flags.interval ?? 60, 'interval', 10, 86400, ' seconds'),
    command,
    node: flags.node ? resolve(flags.node) : null,
    service: service === 'auto' ? pickService(platform) : service,
    healthPath,
    healthTimeout: toInt(flags.healthTimeout ?? 60, 'health-timeout', 1, 3600, ' seconds'),
    restart: 'always',
    allowRemote,
  };
}

function verifyRefName(value: string, flag: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9._/-]*$/.test(value) || value.includes('..')) {
    throw new UserError(`--${flag} "${value}" is not a valid git ${flag} name.`, `Pass the ${flag} name as git shows it.`);
  }
  return value;
}

/** launchd on macOS; elsewhere the embedded process backend (systemd is not built yet). */
export function pickService(platform: string): ServiceKind {
  return platform === 'darwin' ? 'launchd' : 'process';
}

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

export function readSiteConfig(name: string): SiteConfig {
  const paths = getSitePaths(name);
  const text = readTextOrNull(paths.config);
  if (text === null) {
    const names = listSiteNames();
    throw new UserError(
      `No site named "${name}" is installed${names.length ? ` (installed: ${names.join(', ')})` : ''}.`,
      names.length ? `Pass --name ${names[0]}, or install it with localhost-ops install --repo DIR --name ${name}.` : `Install it with localhost-ops install --repo DIR --name ${name}.`,
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
    data && typeof data === 'object' && data.schemaVersion === 1 && data.name === name &&
    typeof data.repo === 'string' && typeof data.port === 'number' && typeof data.host === 'string' &&
    typeof data.remote === 'string' && typeof data.branch === 'string' && typeof data.interval === 'number' &&
    typeof data.command === 'string' && typeof data.service === 'string' && typeof data.healthPath === 'string' &&
    typeof data.healthTimeout === 'number';
  if (!ok) throw new UserError(`${tildify(paths.config)} is missing fields or has values of the wrong type.`, fix);
  return data as SiteConfig;
}

/** A site whose jobs were removed: sync and run would start what uninstall stopped. */
export function verifyInstalled(site: Site): Site {
  if (site.config.uninstalled) {
    throw new UserError(`The site "${site.name}" was uninstalled, so nothing may start its server.`, `Run ${installCommand(site.config)} to bring it back.`);
  }
  return site;
}

/** Finds the site a command means: --name, or the only one installed. */
export function resolveSite(name?: string): Site {
  if (name !== undefined) {
    verifyName(name);
    return { name, config: readSiteConfig(name), paths: getSitePaths(name) };
  }
  const names = listSiteNames();
  if (names.length === 0) {
    throw new UserError('No site is installed yet.', 'Run localhost-ops install --repo DIR first.');
  }
  if (names.length > 1) {
    throw new UserError(`Several sites are installed (${names.join(', ')}), so the command needs one.`, `Pass --name, for example --name ${names[0]}.`);
  }
  return resolveSite(names[0]);
}

/*
 * The commands that fix a site, as doctor's fixes and the CLI's errors name them. Always
 * with --name, so a fix pasted on a machine with several sites does what it says.
 */

/** Quotes a word for sh only when it needs it. */
export function shellWord(word: string): string {
  return /^[A-Za-z0-9_./:@%+=,~-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

export function syncCommand(config: SiteConfig, force = false): string {
  return `localhost-ops sync${force ? ' --force' : ''} --name ${config.name}`;
}

/**
 * The install command that reproduces this config: re-running it rewrites and reloads only
 * what drifted (DESIGN §1), so it is the fix for jobs that are missing or edited by hand.
 */
export function installCommand(config: SiteConfig): string {
  const args: string[] = ['--repo', tildify(config.repo), '--name', config.name];
  const add = (flag: string, value: string | number, byDefault: string | number) => {
    if (value !== byDefault) args.push(`--${flag}`, String(value));
  };
  add('port', config.port, 4321);
  add('host', config.host, '127.0.0.1');
  add('remote', config.remote, 'origin');
  add('branch', config.branch, 'main');
  add('interval', config.interval, 60);
  add('command', config.command, DEFAULT_COMMAND);
  if (config.node) args.push('--node', tildify(config.node));
  add('service', config.service, pickService(process.platform));
  add('health-path', config.healthPath, '/');
  add('health-timeout', config.healthTimeout, 60);
  if (config.allowRemote) args.push('--allow-remote');
  // ~ must stay outside the quotes for the shell to expand it.
  const word = (a: string) => (a.startsWith('~/') ? `~/${shellWord(a.slice(2))}` : shellWord(a));
  return `localhost-ops install ${args.map(word).join(' ')}`;
}
