/**
 * What the two jobs are, independent of who runs them. Every backend renders these specs
 * (a plist, a unit, a detached process), and doctor compares what is installed with them.
 */
import { realpathSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { Site, ServiceKind, JobContext } from '../site/config.js';
import { getHome, getToolEntry } from '../site/paths.js';
import { findOnPath } from '../os/fs.js';
import { getJobPlatform } from './privacy.js';

export type JobKind = 'sync' | 'server';

/** A backend's own caveats, for doctor's service check: it never branches on the backend. */
export interface BackendCaveats {
  /** Appended to the ok summary ("; lingering on"). */
  note: string;
  /** Appended to a "not running" summary (" (the process backend's jobs stop at a reboot)"). */
  whenDown: string;
  evidence: string[];
  /** A condition that deserves a warning even while both jobs run. */
  warning?: { summary: string; fix: string; command?: string };
}

/** A job definition read back from disk, as an object (plist dict, unit sections, spec). */
export type JobDefinition = Record<string, unknown>;

export interface JobSpec {
  kind: JobKind;
  label: string;
  programArguments: string[];
  workingDirectory: string;
  environment: Record<string, string>;
  stdoutPath: string;
  stderrPath: string;
}

export interface JobStatus {
  installed: boolean;
  running: boolean;
  pid: number | null;
  lastExit: number | null;
  /** The installed definition equals the one install would write now. */
  current: boolean;
  detail: string;
}

export interface ServiceStatus {
  sync: JobStatus;
  server: JobStatus;
}

export interface ServiceBackend {
  kind: ServiceKind;
  /** Writes and (re)loads the jobs whose definition changed, starts any that is not running. Returns the kinds it touched. */
  apply(site: Site, specs: JobSpec[]): Promise<JobKind[]>;
  /** Ends the job and starts it again (installing it first if it is missing or changed). */
  restart(site: Site, spec: JobSpec): Promise<void>;
  isRunning(site: Site, kind: JobKind): Promise<boolean>;
  status(site: Site, specs: JobSpec[]): Promise<ServiceStatus>;
  /** Stops both jobs and removes their definitions. */
  remove(site: Site): Promise<void>;
  /** Where the job's definition lives on disk: a plist, a unit file, a spec.json. */
  getDefinitionPath(site: Site, kind: JobKind): string;
  /** Pure: a definition's text parsed into an object (null when unreadable), for doctor's diff. */
  parseDefinition(text: string): Promise<JobDefinition | null>;
  /** What install would write for this spec, parsed the same way. */
  renderDefinition(spec: JobSpec): Promise<JobDefinition | null>;
  /** The program and arguments a parsed definition executes. */
  getProgramArguments(definition: JobDefinition): string[] | null;
  /** What doctor should say about this backend beyond the jobs' state (a reboot, lingering). */
  getCaveats(site: Site): Promise<BackendCaveats>;
}

export function getLabel(name: string, kind: JobKind): string {
  return `localhost-ops.${name}.${kind}`;
}

const SYSTEM_PATH = ['/usr/local/bin', '/opt/homebrew/bin', '/usr/bin', '/bin', '/usr/sbin', '/sbin'];

/**
 * What the jobs run with, captured once by install from the process running it, and kept
 * in config.json. Specs are built from this record, not from whoever runs a later sync:
 * a manual `sync` from another shell (another Node, another PATH) must not rewrite them,
 * and neither does a new pinned Node, since `run` and `npm ci` put the Node of the
 * commit they serve first on PATH themselves. Install, run again, renews the record.
 */
export function getJobContext(
  pinnedBinDir: string,
  env: NodeJS.ProcessEnv = process.env,
  execPath = process.execPath,
): JobContext {
  const node = getJobNode(execPath);
  const found = ['git', 'launchctl'].map((name) => findOnPath(name, env.PATH)).filter((p): p is string => p !== null);
  const jobEnv: Record<string, string> = { HOME: env.HOME || getHome() };
  // A non-default tool home or Node must reach the jobs, or they would look for another site.
  // The desktop session's addresses let the jobs' notifications (notify-send) reach the
  // screen; where install runs without a desktop they are absent and nothing is added.
  for (const key of [
    'LOCALHOST_OPS_HOME',
    'LOCALHOST_OPS_NODE',
    'DISPLAY',
    'WAYLAND_DISPLAY',
    'DBUS_SESSION_BUS_ADDRESS',
  ] as const) {
    if (env[key]) jobEnv[key] = env[key] as string;
  }
  // Absolute (DESIGN §3): the jobs run in the site folder, where a relative path means another place.
  for (const key of ['LOCALHOST_OPS_HOME', 'LOCALHOST_OPS_NODE'] as const) {
    if (jobEnv[key]) jobEnv[key] = resolve(jobEnv[key]);
  }
  return {
    node,
    entry: getToolEntry(),
    pinnedBinDir,
    // The sync job runs git, and restarts the server through launchctl. Nothing else of
    // the installing shell's PATH: a version manager's folder there would outlive its Node.
    pathDirs: [...new Set([dirname(node), ...found.map((p) => dirname(p))])],
    env: jobEnv,
  };
}

/**
 * Pure: Homebrew's opt/ link for a Node in its Cellar
 * (/opt/homebrew/Cellar/node@22/22.3.0/bin/node → /opt/homebrew/opt/node@22/bin/node). The
 * running Node's path is the Cellar one, which `brew upgrade` deletes; the opt link follows
 * the formula to its new version.
 */
export function getHomebrewOptPath(path: string): string | null {
  const m = /^(.+)\/Cellar\/([^/]+)\/[^/]+\/bin\/node$/.exec(path);
  return m ? `${m[1]}/opt/${m[2]}/bin/node` : null;
}

/** The Node the jobs run: the one running install, by a path that survives its upgrade where there is one. */
export function getJobNode(execPath = process.execPath): string {
  const opt = getHomebrewOptPath(execPath);
  if (!opt) return execPath;
  try {
    return realpathSync(opt) === realpathSync(execPath) ? opt : execPath;
  } catch {
    return execPath;
  }
}

/** The jobs' PATH: the pinned Node first (DESIGN §5), then the recorded folders, then the system's. */
export function getJobPath(context: JobContext): string {
  return [...new Set([context.pinnedBinDir, ...context.pathDirs, ...SYSTEM_PATH])].join(':');
}

/**
 * The sync agent's memory (DESIGN §3.2: 1,000 syncs add under 10 MB of RSS). With Node's
 * defaults, 1,000 back-to-back no-op syncs took it from 88 to 114 MB, +26 to +29 MB (npm
 * run bench), and none of it was live data (the heap in use stayed at 15 to 22 MB): V8 grew
 * its young generation to two 16 MB semi-spaces, and glibc kept a malloc arena per thread.
 * A sync keeps little alive, so 1 MB semi-spaces cost no CPU the bench can see, and two
 * arenas serve one thread of JavaScript: +2 to +9 MB in six runs, level at 78 to 88 MB
 * after ~300 syncs (what is left is V8 sizing its old generation to the live set). The
 * server agent keeps Node's defaults: it proxies every request, where a larger young
 * generation pays for itself.
 */
const SYNC_AGENT_NODE_FLAGS = ['--max-semi-space-size=1'];
/** glibc's knob, so Linux only: macOS's allocator has none. */
const SYNC_AGENT_LINUX_ENV = { MALLOC_ARENA_MAX: '2' };

/** Pure given the recorded context: the two job specs for a site. */
export function getJobSpecs(site: Site, platform: NodeJS.Platform = process.platform): JobSpec[] {
  const context = site.config.jobs ?? getJobContext(dirname(process.execPath));
  const environment: Record<string, string> = { ...context.env, PATH: getJobPath(context) };
  const onLinux = getJobPlatform(site.config.service, platform) === 'linux';
  const logs = site.paths.logs;
  const job = (kind: JobKind, nodeFlags: string[], env: Record<string, string>, ...command: string[]): JobSpec => ({
    kind,
    label: getLabel(site.name, kind),
    programArguments: [context.node, ...nodeFlags, context.entry, ...command, '--name', site.name],
    workingDirectory: site.paths.dir,
    environment: { ...environment, ...env },
    // What the service manager itself captures: start-up failures before the tool logs.
    stdoutPath: join(logs, `${site.config.service}-${kind}.log`),
    stderrPath: join(logs, `${site.config.service}-${kind}.log`),
  });
  return [
    job('sync', SYNC_AGENT_NODE_FLAGS, onLinux ? SYNC_AGENT_LINUX_ENV : {}, 'sync', '--watch'),
    job('server', [], {}, 'run'),
  ];
}

/** The tool's entry in a job's program arguments: the first word after Node that is not one of Node's own flags. */
export function getEntryArgument(programArguments: string[]): string | null {
  return programArguments.slice(1).find((a) => !a.startsWith('-')) ?? null;
}

/** A JSON object, or null for anything else (a hand-broken spec.json is "unreadable", not a crash). */
export function parseJsonObject(text: string): JobDefinition | null {
  try {
    const data: unknown = JSON.parse(text);
    return data && typeof data === 'object' && !Array.isArray(data) ? (data as JobDefinition) : null;
  } catch {
    return null;
  }
}

export function getStringArray(value: unknown): string[] | null {
  return Array.isArray(value) && value.every((a) => typeof a === 'string') ? (value as string[]) : null;
}
