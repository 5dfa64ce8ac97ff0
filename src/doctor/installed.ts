/**
 * The job definitions as installed on disk, read back into JobSpec shape. The backend's
 * status says whether they are current; this says *what* differs, so the report can name
 * a hand edit or a Node path that no longer exists rather than just "differs".
 */
import { join } from 'node:path';
import type { Site } from '../config.js';
import { readTextOrNull } from '../fsutil.js';
import { getHome } from '../paths.js';
import { getLabel, type JobKind, type JobSpec } from '../service/jobs.js';

export interface InstalledJob {
  kind: JobKind;
  /** The definition file: a plist, or the process backend's spec.json. */
  path: string;
  exists: boolean;
  /** Null when the file is missing or cannot be read back. */
  spec: Partial<JobSpec> | null;
}

export type InstalledSpecs = Record<JobKind, InstalledJob>;

export function getDefinitionPath(site: Site, kind: JobKind): string {
  if (site.config.service === 'launchd') return join(getHome(), 'Library', 'LaunchAgents', `${getLabel(site.name, kind)}.plist`);
  return join(site.paths.runDir, `${kind}.spec.json`);
}

async function fromPlist(text: string): Promise<Partial<JobSpec> | null> {
  const { parse } = await import('plist');
  let data: Record<string, unknown>;
  try {
    data = parse(text) as Record<string, unknown>;
  } catch {
    return null;
  }
  if (!data || typeof data !== 'object') return null;
  return {
    label: data.Label as string | undefined,
    programArguments: data.ProgramArguments as string[] | undefined,
    workingDirectory: data.WorkingDirectory as string | undefined,
    environment: data.EnvironmentVariables as Record<string, string> | undefined,
    stdoutPath: data.StandardOutPath as string | undefined,
    stderrPath: data.StandardErrorPath as string | undefined,
    interval: data.StartInterval as number | undefined,
  };
}

function fromJson(text: string): Partial<JobSpec> | null {
  try {
    const data = JSON.parse(text) as Partial<JobSpec>;
    return data && typeof data === 'object' ? data : null;
  } catch {
    return null;
  }
}

export async function readInstalledSpecs(site: Site): Promise<InstalledSpecs> {
  const one = async (kind: JobKind): Promise<InstalledJob> => {
    const path = getDefinitionPath(site, kind);
    const text = readTextOrNull(path);
    const spec = text === null ? null : site.config.service === 'launchd' ? await fromPlist(text) : fromJson(text);
    return { kind, path, exists: text !== null, spec };
  };
  const [sync, server] = await Promise.all([one('sync'), one('server')]);
  return { sync, server };
}

const FIELDS: [keyof JobSpec, string][] = [
  ['label', 'label'],
  ['programArguments', 'program'],
  ['workingDirectory', 'working folder'],
  ['environment', 'environment'],
  ['stdoutPath', 'stdout log'],
  ['stderrPath', 'stderr log'],
  ['interval', 'interval'],
];

function show(value: unknown): string {
  if (value === undefined) return '(none)';
  if (Array.isArray(value)) return value.join(' ');
  if (value && typeof value === 'object') {
    return Object.entries(value as Record<string, string>).map(([k, v]) => `${k}=${v}`).join(' ');
  }
  return String(value);
}

/** Pure: one line per field that differs, "installed → wanted". */
export function diffSpecs(installed: Partial<JobSpec>, wanted: JobSpec): string[] {
  const lines: string[] = [];
  for (const [key, name] of FIELDS) {
    const a = installed[key];
    const b = wanted[key];
    if (JSON.stringify(a) === JSON.stringify(b)) continue;
    if (key === 'environment' && a && b && typeof a === 'object' && typeof b === 'object') {
      const ea = a as Record<string, string>;
      const eb = b as Record<string, string>;
      for (const k of [...new Set([...Object.keys(ea), ...Object.keys(eb)])].sort()) {
        if (ea[k] !== eb[k]) lines.push(`${name} ${k}: ${ea[k] ?? '(none)'} → ${eb[k] ?? '(none)'}`);
      }
      continue;
    }
    lines.push(`${name}: ${show(a)} → ${show(b)}`);
  }
  return lines;
}
