import { OpsError } from '../errors.js';
export async function doctorCommand(_argv: { name?: string; json?: boolean; network?: boolean; verbose?: boolean }): Promise<number> {
  throw new OpsError('doctor is being built.');
}
