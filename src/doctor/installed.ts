/**
 * The job definitions as installed on disk, read back. The backend's status says whether
 * they are current; this says *what* differs (a hand-edited plist key, a Node path that
 * moved), so the report can name it rather than just say "differs".
 */
import type { Site } from '../config.js';
import { readTextOrNull } from '../fsutil.js';
import { getLabel, type JobKind, type JobSpec } from '../service/jobs.js';
import { getAgentPath } from '../service/launchd.js';

type Data = Record<string, unknown>;

export interface InstalledJob {
  kind: JobKind;
  /** The definition file: a plist, or the process backend's spec.json. */
  path: string;
  exists: boolean;
  /** The parsed definition; null when missing or unreadable. */
  data: Data | null;
  /** What the job executes: [node, tool entry, command, …]. */
  programArguments: string[] | null;
}

export type InstalledJobs = Record<JobKind, InstalledJob>;

function isLaunchd(site: Site): boolean {
  return site.config.service === 'launchd';
}

export function getDefinitionPath(site: Site, kind: JobKind): string {
  return isLaunchd(site) ? getAgentPath(getLabel(site.name, kind)) : `${site.paths.runDir}/${kind}.spec.json`;
}

async function parse(site: Site, text: string): Promise<Data | null> {
  try {
    const data: unknown = isLaunchd(site) ? (await import('plist')).parse(text) : JSON.parse(text);
    return data && typeof data === 'object' && !Array.isArray(data) ? (data as Data) : null;
  } catch {
    return null;
  }
}

export async function readInstalledJobs(site: Site): Promise<InstalledJobs> {
  const one = async (kind: JobKind): Promise<InstalledJob> => {
    const path = getDefinitionPath(site, kind);
    const text = readTextOrNull(path);
    const data = text === null ? null : await parse(site, text);
    const args = data?.[isLaunchd(site) ? 'ProgramArguments' : 'programArguments'];
    const programArguments = Array.isArray(args) && args.every((a) => typeof a === 'string') ? (args as string[]) : null;
    return { kind, path, exists: text !== null, data, programArguments };
  };
  const [sync, server] = await Promise.all([one('sync'), one('server')]);
  return { sync, server };
}

/** What install would write for this job, in the same shape as readInstalledJobs reads. */
export async function getWantedDefinition(site: Site, spec: JobSpec): Promise<Data | null> {
  if (!isLaunchd(site)) return { ...spec };
  const { renderAgentText } = await import('../service/launchd-plist.js');
  return parse(site, renderAgentText(spec));
}

function flatten(value: unknown, prefix: string, out: Map<string, string>): void {
  if (value && typeof value === 'object' && !Array.isArray(value) && !(value instanceof Date)) {
    for (const [k, v] of Object.entries(value)) flatten(v, prefix ? `${prefix}.${k}` : k, out);
    return;
  }
  out.set(prefix, Array.isArray(value) ? value.join(' ') : String(value));
}

/** Pure: one line per key that differs, "key: installed → wanted". */
export function diffDefinitions(installed: Data, wanted: Data): string[] {
  const a = new Map<string, string>();
  const b = new Map<string, string>();
  flatten(installed, '', a);
  flatten(wanted, '', b);
  const keys = [...new Set([...a.keys(), ...b.keys()])];
  return keys.filter((k) => a.get(k) !== b.get(k)).map((k) => `${k}: ${a.get(k) ?? '(none)'} → ${b.get(k) ?? '(none)'}`);
}
