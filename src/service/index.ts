/**
 * The only module that knows the backends (DESIGN §4): each registers behind the one
 * ServiceBackend interface, and is imported only when a site uses it, so a no-op sync never
 * loads plist or another backend's code. An unknown kind is an error, never a fallback.
 */
import { OpsError } from '../errors.js';
import type { ServiceKind } from '../site/config.js';
import type { ServiceBackend } from './jobs.js';

const BACKENDS: Record<ServiceKind, () => Promise<ServiceBackend>> = {
  process: async () => (await import('./process/index.js')).processBackend,
  launchd: async () => (await import('./launchd/index.js')).launchdBackend,
  systemd: async () => {
    throw new OpsError('The systemd backend is not available yet.', 'Reinstall with --service process.');
  },
};

export async function loadBackend(kind: ServiceKind): Promise<ServiceBackend> {
  const load = Object.hasOwn(BACKENDS, kind) ? BACKENDS[kind] : undefined;
  if (!load) {
    throw new OpsError(`The service backend "${String(kind)}" is unknown.`, 'Reinstall with --service auto.');
  }
  return load();
}

export { getJobContext, getJobSpecs, getLabel } from './jobs.js';
export type { JobDefinition, JobKind, JobSpec, JobStatus, ServiceBackend, ServiceStatus } from './jobs.js';
