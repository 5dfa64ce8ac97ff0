import type { ServiceBackend } from './jobs.js';
import { OpsError } from '../errors.js';
const missing = async (): Promise<never> => {
  throw new OpsError('The launchd backend is being built.');
};
export const launchdBackend: ServiceBackend = { kind: 'launchd', apply: missing, restartServer: missing, isServerRunning: missing, status: missing, remove: missing };
