/**
 * What the two jobs are, independent of who runs them. Every backend renders these specs
 * (a plist, a unit, a detached process), and doctor compares what is installed with them.
 */
import { dirname, join } from 'node:path';
import type { Site, ServiceKind, JobContext } from '../config.js';
import { getHome, getToolEntry } from '../paths.js';
import { findOnPath } from '../fsutil.js';

export type JobKind = 'sync' | 'server';

export interface JobSpec {
  kind: JobKind;
  label: string;
  programArguments: string[];
  workingDirectory: string;
  environment: Record<string, string>;
  stdoutPath: string;
  stderrPath: string;
  /** sync: seconds between runs (launchd StartInterval). */
  interval?: number;
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
  /** Ends the server and starts it again (starting it if it is not installed yet). */
  restartServer(site: Site, spec: JobSpec): Promise<void>;
  isServerRunning(site: Site): Promise<boolean>;
  status(site: Site, specs: JobSpec[]): Promise<ServiceStatus>;
  /** Stops both jobs and removes their definitions. */
  remove(site: Site): Promise<void>;
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
export function getJobContext(pinnedBinDir: string, env: NodeJS.ProcessEnv = process.env): JobContext {
  const found = ['git', 'launchctl'].map((name) => findOnPath(name, env.PATH)).filter((p): p is string => p !== null);
  const jobEnv: Record<string, string> = { HOME: env.HOME || getHome() };
  // A non-default tool home or Node must reach the jobs, or they would look for another site.
  for (const key of ['LOCALHOST_OPS_HOME', 'LOCALHOST_OPS_NODE'] as const) {
    if (env[key]) jobEnv[key] = env[key] as string;
  }
  return {
    node: process.execPath,
    entry: getToolEntry(),
    pinnedBinDir,
    // The sync job runs git, and restarts the server through launchctl.
    pathDirs: [...new Set([dirname(process.execPath), ...found.map((p) => dirname(p))])],
    env: jobEnv,
  };
}

/** The jobs' PATH: the pinned Node first (DESIGN §5), then the recorded folders, then the system's. */
export function getJobPath(context: JobContext): string {
  return [...new Set([context.pinnedBinDir, ...context.pathDirs, ...SYSTEM_PATH])].join(':');
}

/** Pure given the recorded context: the two job specs for a site. */
export function getJobSpecs(site: Site): JobSpec[] {
  const context = site.config.jobs ?? getJobContext(dirname(process.execPath));
  const environment: Record<string, string> = { ...context.env, PATH: getJobPath(context) };
  const logs = site.paths.logs;
  const job = (kind: JobKind, command: string): JobSpec => ({
    kind,
    label: getLabel(site.name, kind),
    programArguments: [context.node, context.entry, command, '--name', site.name],
    workingDirectory: site.paths.dir,
    environment,
    // What the service manager itself captures: start-up failures before the tool logs.
    stdoutPath: join(logs, `${site.config.service}-${kind}.log`),
    stderrPath: join(logs, `${site.config.service}-${kind}.log`),
  });
  return [{ ...job('sync', 'sync'), interval: site.config.interval }, job('server', 'run')];
}

export async function loadBackend(kind: ServiceKind): Promise<ServiceBackend> {
  switch (kind) {
    case 'process':
      return (await import('./process.js')).processBackend;
    case 'launchd':
      return (await import('./launchd.js')).launchdBackend;
    default:
      return (await import('./process.js')).processBackend;
  }
}
