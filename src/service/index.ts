/**
 * The only module that knows the backends (DESIGN §4): each registers behind the one
 * ServiceBackend interface, and is imported only when a site uses it, so a no-op sync never
 * loads plist or another backend's code. An unknown kind is an error, never a fallback.
 */
import { OpsError } from '../errors.js';
import type { ServiceKind } from '../site/config.js';
import type { ServiceBackend } from './jobs.js';
import type { Lingering, SystemdProbe } from './systemd/systemctl.js';

const BACKENDS: Record<ServiceKind, () => Promise<ServiceBackend>> = {
  process: async () => (await import('./process/index.js')).processBackend,
  launchd: async () => (await import('./launchd/index.js')).launchdBackend,
  systemd: async () => (await import('./systemd/index.js')).systemdBackend,
};

export async function loadBackend(kind: ServiceKind): Promise<ServiceBackend> {
  const load = Object.hasOwn(BACKENDS, kind) ? BACKENDS[kind] : undefined;
  if (!load) {
    throw new OpsError(`The service backend "${String(kind)}" is unknown.`, 'Reinstall with --service auto.');
  }
  return load();
}

/** install's probe: does a systemd user manager answer `running` or `degraded`? Never throws. */
export async function probeSystemdUser(): Promise<SystemdProbe> {
  return (await import('./systemd/systemctl.js')).probeSystemdUser();
}

export async function isSystemdUserAvailable(): Promise<boolean> {
  return (await probeSystemdUser()).available;
}

/** systemd lingering of this user: on, off, or null when loginctl cannot answer. Never throws. */
export async function getLingering(): Promise<Lingering> {
  return (await import('./systemd/systemctl.js')).getLingering();
}

export { getJobContext, getJobSpecs, getLabel } from './jobs.js';
export type { JobDefinition, JobKind, JobSpec, JobStatus, ServiceBackend, ServiceStatus } from './jobs.js';
export type { Lingering, SystemdProbe } from './systemd/systemctl.js';
