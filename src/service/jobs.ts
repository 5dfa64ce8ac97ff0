/**
 * What the two jobs are, independent of who runs them. Every backend renders these specs
 * (a plist, a unit, a detached process), and doctor compares what is installed with them.
 */
import { dirname, join } from 'node:path';
import type { Site, ServiceKind } from '../config.js';
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
 * The jobs' PATH: the pinned Node first (DESIGN §5), then the folders of the git, Node and
 * launchctl the tool was installed with (the sync job restarts the server through
 * launchctl), then the system folders launchd would give.
 */
export function getJobPath(pinnedBinDir: string, gitDir: string | null, toolNodeDir = dirname(process.execPath), launchctl = findOnPath('launchctl')): string {
  const dirs = [pinnedBinDir, toolNodeDir, ...(gitDir ? [gitDir] : []), ...(launchctl ? [dirname(launchctl)] : []), ...SYSTEM_PATH];
  return [...new Set(dirs)].join(':');
}

/** Pure: the two job specs for a site. */
export function buildJobSpecs(site: Site, jobPath: string, env: NodeJS.ProcessEnv = process.env): JobSpec[] {
  const environment: Record<string, string> = { HOME: env.HOME || getHome(), PATH: jobPath };
  // A non-default tool home or Node must reach the jobs, or they would look for another site.
  for (const key of ['LOCALHOST_OPS_HOME', 'LOCALHOST_OPS_NODE'] as const) {
    if (env[key]) environment[key] = env[key] as string;
  }
  const entry = getToolEntry();
  const logs = site.paths.logs;
  const job = (kind: JobKind, command: string): JobSpec => ({
    kind,
    label: getLabel(site.name, kind),
    programArguments: [process.execPath, entry, command, '--name', site.name],
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
