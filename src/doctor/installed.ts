/**
 * The job definitions as installed on disk, read back. The backend's status says whether
 * they are current; this says *what* differs (a hand-edited key, a Node path that moved),
 * so the report can name it rather than just say "differs". The backend knows where its
 * definitions live and how to read them; doctor never branches on which backend it is.
 */
import type { Site } from '../site/config.js';
import { readTextOrNull } from '../os/fs.js';
import type { JobDefinition, JobKind, ServiceBackend } from '../service/index.js';

export interface InstalledJob {
  kind: JobKind;
  /** The definition file: a plist, a unit, or the process backend's spec.json. */
  path: string;
  exists: boolean;
  /** The parsed definition; null when missing or unreadable. */
  data: JobDefinition | null;
  /** What the job executes: [node, tool entry, command, …]. */
  programArguments: string[] | null;
}

export type InstalledJobs = Record<JobKind, InstalledJob>;

export async function readInstalledJobs(site: Site, backend: ServiceBackend): Promise<InstalledJobs> {
  const one = async (kind: JobKind): Promise<InstalledJob> => {
    const path = backend.getDefinitionPath(site, kind);
    const text = readTextOrNull(path);
    const data = text === null ? null : await backend.parseDefinition(text);
    const programArguments = data ? backend.getProgramArguments(data) : null;
    return { kind, path, exists: text !== null, data, programArguments };
  };
  const [sync, server] = await Promise.all([one('sync'), one('server')]);
  return { sync, server };
}

function flatten(value: unknown, prefix: string, out: Map<string, string>): void {
  if (value && typeof value === 'object' && !Array.isArray(value) && !(value instanceof Date)) {
    for (const [k, v] of Object.entries(value)) flatten(v, prefix ? `${prefix}.${k}` : k, out);
    return;
  }
  out.set(prefix, Array.isArray(value) ? value.join(' ') : String(value));
}

/** Pure: one line per key that differs, "key: installed → wanted". */
export function diffDefinitions(installed: JobDefinition, wanted: JobDefinition): string[] {
  const a = new Map<string, string>();
  const b = new Map<string, string>();
  flatten(installed, '', a);
  flatten(wanted, '', b);
  const keys = [...new Set([...a.keys(), ...b.keys()])];
  return keys
    .filter((k) => a.get(k) !== b.get(k))
    .map((k) => `${k}: ${a.get(k) ?? '(none)'} → ${b.get(k) ?? '(none)'}`);
}
