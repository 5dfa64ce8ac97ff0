/**
 * The LaunchAgent plists, rendered from templates/launchagents/. Pure apart from reading
 * the template: a template is parsed into an object, the job's values are set on it, and
 * the plist package builds the XML again. Nothing is pasted into XML as text, so a path
 * holding spaces, &, <, quotes or non-ASCII comes out escaped and reads back unchanged.
 * Kept apart from index.ts so that a noop sync, which renders nothing, never loads plist.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { build, parse, type PlistValue } from 'plist';
import { OpsError } from '../../errors.js';
import { getToolRoot } from '../../site/paths.js';
import type { JobKind, JobSpec } from '../jobs.js';

export type PlistDict = { [key: string]: PlistValue };

export function readTemplate(kind: JobKind, root = getToolRoot()): string {
  const path = join(root, 'templates', 'launchagents', `${kind}.plist`);
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new OpsError(
      `The LaunchAgent template ${path} cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}).`,
      'Reinstall localhost-ops: its templates folder is incomplete.',
    );
  }
}

export function parseTemplate(text: string, what = 'template'): PlistDict {
  let value: PlistValue;
  try {
    value = parse(text);
  } catch (err) {
    throw new OpsError(`The LaunchAgent ${what} is not a valid plist: ${(err as Error).message}`);
  }
  if (
    value === null ||
    typeof value !== 'object' ||
    Array.isArray(value) ||
    value instanceof Date ||
    value instanceof Uint8Array
  ) {
    throw new OpsError(`The LaunchAgent ${what} does not hold a <dict> at its top.`);
  }
  return value;
}

// XML 1.0 cannot carry most control characters, and a CR would not survive a round trip;
// the plist package would throw an unhelpful error, so name the value instead.
const CONTROL = /[\u0000-\u001f\u007f]/;

function checkText(value: string, what: string): string {
  if (CONTROL.test(value)) {
    throw new OpsError(
      `The ${what} ${JSON.stringify(value)} holds a control character, which a LaunchAgent plist cannot carry.`,
      'Use paths and values without control characters (newlines, tabs).',
    );
  }
  return value;
}

/**
 * Pure: the agent for one job. The template supplies the fixed keys (RunAtLoad, KeepAlive,
 * ProcessType…) and their order; the job supplies everything that names this site.
 */
export function renderAgent(spec: JobSpec, template: PlistDict): PlistDict {
  const agent: PlistDict = structuredClone(template);
  agent.Label = checkText(spec.label, 'label');
  // The absolute Node and the tool's entry: launchd runs no shell and searches no PATH of ours.
  agent.ProgramArguments = spec.programArguments.map((a) => checkText(a, 'program argument'));
  agent.WorkingDirectory = checkText(spec.workingDirectory, 'working directory');
  const env: PlistDict = {};
  for (const [key, value] of Object.entries(spec.environment))
    env[checkText(key, 'variable name')] = checkText(value, `value of ${key}`);
  agent.EnvironmentVariables = env;
  agent.StandardOutPath = checkText(spec.stdoutPath, 'log path');
  agent.StandardErrorPath = checkText(spec.stderrPath, 'log path');
  // Both agents are resident (KeepAlive); the sync agent keeps its own interval.
  delete agent.StartInterval;
  return agent;
}

/** The plist's text as written to disk: tab-indented like Apple's own, ending in a newline. */
export function buildPlistText(agent: PlistDict): string {
  return `${build(agent, { indent: '\t' })}\n`;
}

/** Pure given the template text: what install writes for this job. */
export function renderAgentText(spec: JobSpec, templateText = readTemplate(spec.kind)): string {
  return buildPlistText(renderAgent(spec, parseTemplate(templateText, `${spec.kind} template`)));
}
