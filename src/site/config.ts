/** A site's config.json: what install was told, validated and resolved to absolute paths. */
import { isIP } from '../os/listeners.js';
import { isAbsolute, resolve } from 'node:path';
import { ConfigError, UserError } from '../errors.js';
import { NAME_RE, getDefaultName, tildify, type SitePaths } from './paths.js';

export const SERVICES = ['auto', 'launchd', 'systemd', 'process'] as const;
export type ServiceChoice = (typeof SERVICES)[number];
export type ServiceKind = Exclude<ServiceChoice, 'auto'>;
/** `auto`: the site's dev script with its framework's flags (DESIGN §10). */
export const DEFAULT_COMMAND = 'auto';
/** The first release's default, which no user chose: read back as `auto`. */
export const LEGACY_DEFAULT_COMMAND = 'npm run dev -- --host {host} --port {port}';

/** Pure: a config read from disk with the first release's default command made `auto`. */
export function upgradeConfig(config: SiteConfig): SiteConfig {
  return config.command === LEGACY_DEFAULT_COMMAND ? { ...config, command: DEFAULT_COMMAND } : config;
}

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
  /** Set by `pause`: the sync agent follows main no more; the live slot keeps serving. */
  paused?: boolean;
  /** false after `install --no-notify`: no desktop notification when main is held back or recovers. */
  notify?: boolean;
  /** `install --metrics-dir`: where every sync writes localhost_ops_<name>.prom. */
  metricsDir?: string;
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
  /** Left out on a re-install with --name: the installed repo. */
  repo?: string;
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
  /** false: --no-notify. */
  notify?: boolean;
  /** --metrics-dir DIR; "" or "none" turns metrics off again. */
  metricsDir?: string;
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
    throw new UserError(
      `--${flag} must be a whole number from ${min} to ${max}${unit}, not "${text}".`,
      `Pass --${flag} ${min}..${max}.`,
    );
  }
  return n;
}

export function isLoopbackHost(host: string): boolean {
  if (host === '::1') return true;
  return isIP(host) === 4 && host.startsWith('127.');
}

/**
 * Turns install flags into a config. Pure: it checks values, not the world; `systemdUser`
 * is the answer of install's probe (isSystemdUserAvailable), for --service auto.
 */
export function parseInstallFlags(flags: InstallFlags, platform = process.platform, systemdUser = false): SiteConfig {
  if (!flags.repo)
    throw new UserError('install needs the site repository.', 'Pass --repo DIR, the path of your clone.');
  const repo = resolve(flags.repo);
  const name = verifyName(flags.name ?? getDefaultName(repo));
  const host = flags.host ?? '127.0.0.1';
  const allowRemote = flags.allowRemote === true;
  if (!isIP(host)) {
    throw new UserError(
      `--host must be an IP address, not "${host}".`,
      'Pass --host 127.0.0.1 (a name such as localhost may resolve to ::1).',
    );
  }
  if (!isLoopbackHost(host) && !allowRemote) {
    throw new UserError(
      `--host ${host} is not a loopback address, so the mirror would be reachable from the network.`,
      'Use --host 127.0.0.1, or add --allow-remote if that is what you want.',
    );
  }
  const service = (flags.service ?? 'auto') as ServiceChoice;
  if (!SERVICES.includes(service)) {
    throw new UserError(
      `--service must be one of ${SERVICES.join(', ')}, not "${flags.service}".`,
      'Pass --service auto.',
    );
  }
  const healthPath = flags.healthPath ?? '/';
  if (!healthPath.startsWith('/') || /\s/.test(healthPath)) {
    throw new UserError(
      `--health-path must start with "/" and hold no spaces, not "${healthPath}".`,
      'Pass --health-path /.',
    );
  }
  const restart = flags.restart ?? 'always';
  if (restart !== 'always') {
    throw new UserError(`--restart ${restart} is not supported yet.`, 'Pass --restart always (the default).');
  }
  const command = flags.command ?? DEFAULT_COMMAND;
  if (!command.trim() || /[\r\n]/.test(command)) {
    throw new UserError(
      '--command must be one non-empty line.',
      'Pass --command auto, or one line with {host} and {port}.',
    );
  }
  if (command !== 'auto' && (!command.includes('{port}') || (!allowRemote && !command.includes('{host}')))) {
    throw new UserError(
      `--command must contain {port}${allowRemote ? '' : ' and {host}'}, so the dev server listens where the front door expects it.`,
      "Pass --command 'npm run dev -- --host {host} --port {port}' (with your dev server's flags), or --command auto.",
    );
  }
  const metricsDir = flags.metricsDir && flags.metricsDir !== 'none' ? resolve(flags.metricsDir) : null;
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
    node: flags.node && flags.node !== 'auto' ? resolve(flags.node) : null,
    service: service === 'auto' ? pickService(platform, systemdUser) : service,
    healthPath,
    healthTimeout: toInt(flags.healthTimeout ?? 60, 'health-timeout', 1, 3600, ' seconds'),
    restart: 'always',
    allowRemote,
    // Written only when not the default, so that a config from before these flags reads the same.
    ...(flags.notify === false ? { notify: false } : {}),
    ...(metricsDir ? { metricsDir } : {}),
  };
}

const isString = (v: unknown): v is string => typeof v === 'string';
const isOptional = (v: unknown, is: (x: unknown) => boolean) => v === undefined || is(v);
const isPlainObject = (v: unknown): v is Record<string, unknown> => !!v && typeof v === 'object' && !Array.isArray(v);

/** What install records for the jobs, read back: strings where strings were written. */
function isJobContext(v: unknown): boolean {
  if (!isPlainObject(v)) return false;
  const { node, entry, pinnedBinDir, pathDirs, env } = v;
  return (
    isString(node) &&
    isString(entry) &&
    isString(pinnedBinDir) &&
    Array.isArray(pathDirs) &&
    pathDirs.every(isString) &&
    isPlainObject(env) &&
    Object.values(env).every(isString)
  );
}

/** Field types as install writes them; the values are judged by parseInstallFlags after this. */
function hasConfigShape(d: Record<string, unknown>, name: string): boolean {
  return (
    d.schemaVersion === 1 &&
    d.name === name &&
    isString(d.repo) &&
    isAbsolute(d.repo) &&
    typeof d.port === 'number' &&
    isString(d.host) &&
    isString(d.remote) &&
    isString(d.branch) &&
    typeof d.interval === 'number' &&
    isString(d.command) &&
    (d.node === null || (isString(d.node) && isAbsolute(d.node))) &&
    // A kind, never `auto`: install decided it.
    SERVICES.some((s) => s !== 'auto' && s === d.service) &&
    isString(d.healthPath) &&
    typeof d.healthTimeout === 'number' &&
    isOptional(d.restart, isString) &&
    isOptional(d.allowRemote, (v) => typeof v === 'boolean') &&
    isOptional(d.jobs, isJobContext) &&
    isOptional(d.uninstalled, (v) => v === true) &&
    isOptional(d.paused, (v) => typeof v === 'boolean') &&
    isOptional(d.notify, (v) => typeof v === 'boolean') &&
    isOptional(d.metricsDir, (v) => isString(v) && isAbsolute(v))
  );
}

/**
 * A config.json read back from disk (DESIGN §3), checked with install's own rules: the
 * types, then every value through parseInstallFlags, so a hand edit install would refuse
 * (a remote starting with `-`, port 0, healthTimeout 0) is refused on every load too, with
 * the file and the fix. `file` is the config's path; the data itself is returned as read.
 */
export function verifyConfig(data: unknown, name: string, file: string): SiteConfig {
  const fix = `Fix or delete ${tildify(file)}, then run localhost-ops install --repo DIR --name ${name} again.`;
  if (!isPlainObject(data) || !hasConfigShape(data, name)) {
    throw new ConfigError(`${tildify(file)} is missing fields or has values of the wrong type.`, fix, file);
  }
  const config = data as unknown as SiteConfig;
  try {
    parseInstallFlags({
      repo: config.repo,
      name: config.name,
      port: config.port,
      host: config.host,
      remote: config.remote,
      branch: config.branch,
      interval: config.interval,
      command: config.command,
      node: config.node ?? undefined,
      service: config.service,
      healthPath: config.healthPath,
      healthTimeout: config.healthTimeout,
      restart: config.restart,
      allowRemote: config.allowRemote,
      metricsDir: config.metricsDir,
    });
  } catch (err) {
    if (!(err instanceof UserError)) throw err;
    // The flag's own sentence, which says the rule and the value: install would refuse it too.
    throw new ConfigError(`${tildify(file)} holds a value install refuses: ${err.message}`, fix, file);
  }
  return upgradeConfig(config);
}

function verifyRefName(value: string, flag: string): string {
  if (value.startsWith('-')) {
    throw new UserError(
      `--${flag} "${value}" starts with "-", so git would take it for an option.`,
      `Pass the ${flag} name as git shows it.`,
    );
  }
  if (!/^[A-Za-z0-9][A-Za-z0-9._/-]*$/.test(value) || value.includes('..')) {
    throw new UserError(
      `--${flag} "${value}" is not a valid git ${flag} name.`,
      `Pass the ${flag} name as git shows it.`,
    );
  }
  return value;
}

/**
 * Pure (DESIGN §4): launchd on macOS; systemd on Linux when a user manager answered
 * `running` or `degraded` (the probe, service/systemd isSystemdUserAvailable, runs first);
 * otherwise the embedded process backend.
 */
export function pickService(platform: string, systemdUser = false): ServiceKind {
  if (platform === 'darwin') return 'launchd';
  if (platform === 'linux' && systemdUser) return 'systemd';
  return 'process';
}

/** A change the server agent itself must restart for: the front door is bound to these. */
export function isServerAffected(before: SiteConfig, after: SiteConfig): boolean {
  return before.port !== after.port || before.host !== after.host || before.allowRemote !== after.allowRemote;
}

/**
 * A change the live dev server must be restarted for, through a swap (DESIGN §1): the
 * agent reads the command and the Node pin each time it starts a slot, so a fresh server
 * in the standby slot picks them up while the live one keeps serving.
 */
export function isDevServerAffected(before: SiteConfig, after: SiteConfig): boolean {
  return before.command !== after.command || before.node !== after.node;
}

/**
 * install run again for an installed site (DESIGN §1): every flag left out keeps its
 * installed value. Pure: `installed` is the config read back before anything is written.
 */
export function mergeInstallFlags(flags: InstallFlags, installed: SiteConfig | null): InstallFlags {
  if (!installed) return flags;
  return {
    repo: flags.repo || installed.repo,
    name: flags.name ?? installed.name,
    port: flags.port ?? installed.port,
    host: flags.host ?? installed.host,
    remote: flags.remote ?? installed.remote,
    branch: flags.branch ?? installed.branch,
    interval: flags.interval ?? installed.interval,
    command: flags.command ?? installed.command,
    node: flags.node ?? installed.node ?? undefined,
    service: flags.service ?? installed.service,
    healthPath: flags.healthPath ?? installed.healthPath,
    healthTimeout: flags.healthTimeout ?? installed.healthTimeout,
    restart: flags.restart ?? installed.restart,
    allowRemote: flags.allowRemote ?? installed.allowRemote,
    notify: flags.notify ?? installed.notify,
    metricsDir: flags.metricsDir ?? installed.metricsDir,
  };
}

/** What a new config keeps from the installed one that no flag sets: a pause. */
export function carryInstalledState(config: SiteConfig, installed: SiteConfig | null): SiteConfig {
  return installed?.paused ? { ...config, paused: true } : config;
}

/** The install flags whose value differs, as `--port 4321 → 4400` (DESIGN §1: the summary says what changed). Pure. */
export function describeConfigChanges(before: SiteConfig, after: SiteConfig): string[] {
  const onOff = (b: boolean | undefined) => (b === false ? 'off' : 'on');
  const rows: [string, string, string][] = [
    ['repo', before.repo, after.repo],
    ['port', String(before.port), String(after.port)],
    ['host', before.host, after.host],
    ['remote', before.remote, after.remote],
    ['branch', before.branch, after.branch],
    ['interval', String(before.interval), String(after.interval)],
    ['command', before.command, after.command],
    ['node', before.node ?? 'auto', after.node ?? 'auto'],
    ['service', before.service, after.service],
    ['health-path', before.healthPath, after.healthPath],
    ['health-timeout', String(before.healthTimeout), String(after.healthTimeout)],
    ['allow-remote', onOff(before.allowRemote), onOff(after.allowRemote)],
    ['notify', onOff(before.notify), onOff(after.notify)],
    ['metrics-dir', before.metricsDir ?? 'none', after.metricsDir ?? 'none'],
  ];
  return rows.filter(([, a, b]) => a !== b).map(([flag, a, b]) => `--${flag} ${a} → ${b}`);
}
