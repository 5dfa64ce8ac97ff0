/**
 * The systemd user units, rendered from templates/systemd/ and read back. Pure apart from
 * reading the template. systemd has three quoting rules, and each setting gets its own:
 * - ExecStart= words: C-style escapes and quotes, `%` specifiers (`%%`), and `$` variable
 *   expansion at start (`$$`);
 * - Environment= assignments: escapes and quotes, `%` specifiers; `$` is literal there;
 * - paths (WorkingDirectory=, StandardOutput=append:): taken as the rest of the line, with
 *   `%` specifiers only, so a path is refused when no quoting could carry it.
 * Kept apart from index.ts so the decisions here are tested without a systemd.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { OpsError } from '../../errors.js';
import { getToolRoot } from '../../site/paths.js';
import type { JobDefinition, JobKind, JobSpec } from '../jobs.js';

export function getUnitName(name: string, kind: JobKind): string {
  return `localhost-ops-${name}-${kind}.service`;
}

// ---------------------------------------------------------------- quoting

const NUL = /\u0000/;
/** A UTF-16 half with no partner: it has no UTF-8 form, so no unit file can hold it. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
/** A word made only of these needs no quotes (after `%` and `$` are doubled). */
const BARE = /^[A-Za-z0-9_@%$+=:,./-]+$/;
/** Prefixes systemd reads on the program (first) word of ExecStart=, unless it is quoted. */
const EXEC_PREFIX = /^[-@:+!|]/;

const C_ESCAPES: Record<string, string> = {
  '\\': '\\\\',
  '"': '\\"',
  '\n': '\\n',
  '\t': '\\t',
  '\r': '\\r',
  '\f': '\\f',
  '\v': '\\v',
  '\b': '\\b',
  '\u0007': '\\a',
};

function checkCarried(value: string, what: string): string {
  if (NUL.test(value) || LONE_SURROGATE.test(value)) {
    throw new OpsError(
      `The ${what} ${JSON.stringify(value)} holds a NUL or an invalid character, which a systemd unit cannot carry.`,
      'Use paths and values without control characters.',
    );
  }
  return value;
}

/** Inside double quotes: backslash, quote and control characters as C escapes. */
function escapeQuoted(value: string): string {
  return value.replace(/[\\"\u0000-\u001f\u007f]/g, (c) => {
    return C_ESCAPES[c] ?? `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`;
  });
}

/** One ExecStart= argument (not the program), quoted so that the program receives exactly `word`. */
export function quoteExecWord(word: string): string {
  checkCarried(word, 'program argument');
  const doubled = word.replace(/%/g, '%%').replace(/\$/g, '$$$$');
  // A lone ";" would separate two commands.
  if (BARE.test(doubled) && word !== ';') return doubled;
  return `"${escapeQuoted(doubled)}"`;
}

/**
 * The program word follows other rules: systemd refuses one holding a quote, a backslash
 * or a control character ("Executable name contains special characters"), and executes a
 * `$` in it literally while expanding it in argv[0]. Such a program (a Node under a HOME
 * with a quote in it) is run through this shell, which passes every word on untouched.
 */
export const EXEC_WRAPPER = ['/bin/sh', '-c', 'exec "$0" "$@"'];
const UNSAFE_PROGRAM = /["'\\$\u0000-\u001f\u007f]/;

export function formatExecStart(argv: string[]): string {
  if (argv.length === 0 || !argv[0]) throw new OpsError('A job has no program to run.');
  const [program, ...args] =
    UNSAFE_PROGRAM.test(argv[0]) || EXEC_PREFIX.test(argv[0]) ? [...EXEC_WRAPPER, ...argv] : argv;
  checkCarried(program, 'program');
  const word = program.replace(/%/g, '%%');
  return [/\s/.test(word) ? `"${word}"` : word, ...args.map((a) => quoteExecWord(a))].join(' ');
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** One Environment= assignment. `$` stays as it is: systemd expands no variables there. */
export function quoteEnvironment(key: string, value: string): string {
  if (!ENV_NAME.test(key)) {
    throw new OpsError(
      `"${key}" is not a valid environment variable name for a systemd unit.`,
      'Use names of letters, digits and "_" that do not start with a digit.',
    );
  }
  const assignment = `${key}=${checkCarried(value, `value of ${key}`)}`.replace(/%/g, '%%');
  return BARE.test(assignment) ? assignment : `"${escapeQuoted(assignment)}"`;
}

/**
 * A path setting: systemd takes the rest of the line as the path and expands only `%`
 * specifiers. A path it would read differently (a control character, a trailing backslash
 * that joins the next line, spaces at either end that it trims) is refused.
 */
export function escapePath(path: string, what: string): string {
  checkCarried(path, what);
  if (!path.startsWith('/') || /[\u0000-\u001f\u007f]/.test(path) || /\\$/.test(path) || path !== path.trim()) {
    throw new OpsError(
      `The ${what} ${JSON.stringify(path)} cannot be written in a systemd unit: it must be absolute, without control characters, and not end in a backslash or a space.`,
      'Move the folder to a path without those characters.',
    );
  }
  return path.replace(/%/g, '%%');
}

// ---------------------------------------------------------------- unquoting

const C_UNESCAPES: Record<string, string> = {
  a: '\u0007',
  b: '\b',
  f: '\f',
  n: '\n',
  r: '\r',
  t: '\t',
  v: '\v',
  s: ' ',
  '\\': '\\',
  '"': '"',
  "'": "'",
};

/** The C escape at text[i] (a backslash); returns the character(s) and the length read. */
function unescapeAt(text: string, i: number): [string, number] {
  const c = text[i + 1];
  if (c === undefined) return ['\\', 1];
  if (c in C_UNESCAPES) return [C_UNESCAPES[c], 2];
  let m: RegExpExecArray | null;
  if (c === 'x' && (m = /^[0-9a-fA-F]{2}/.exec(text.slice(i + 2)))) return [String.fromCharCode(parseInt(m[0], 16)), 4];
  if (c === 'u' && (m = /^[0-9a-fA-F]{4}/.exec(text.slice(i + 2)))) return [String.fromCharCode(parseInt(m[0], 16)), 6];
  if (c === 'U' && (m = /^[0-9a-fA-F]{8}/.exec(text.slice(i + 2))))
    return [String.fromCodePoint(parseInt(m[0], 16)), 10];
  if ((m = /^[0-7]{3}/.exec(text.slice(i + 1)))) return [String.fromCharCode(parseInt(m[0], 8)), 4];
  // systemd keeps an unknown escape as written.
  return [`\\${c}`, 2];
}

/**
 * Splits a value into words as systemd does: whitespace separates, double or single
 * quotes group (also mid-word), and C escapes apply inside and outside quotes.
 */
export function splitWords(value: string): string[] {
  const words: string[] = [];
  let i = 0;
  while (i < value.length) {
    while (i < value.length && /\s/.test(value[i])) i++;
    if (i >= value.length) break;
    let word = '';
    let quote: string | null = null;
    for (; i < value.length; i++) {
      const c = value[i];
      if (quote === null && /\s/.test(c)) break;
      if (c === '\\') {
        const [text, length] = unescapeAt(value, i);
        word += text;
        i += length - 1;
      } else if (quote !== null && c === quote) {
        quote = null;
      } else if (quote === null && (c === '"' || c === "'")) {
        quote = c;
      } else {
        word += c;
      }
    }
    words.push(word);
  }
  return words;
}

/** `%%` back to `%`; other specifiers are left as written (we never write one). */
const unescapePercent = (text: string) => text.replace(/%%/g, '%');

// ---------------------------------------------------------------- the unit file

export type UnitSections = Record<string, Record<string, string | string[]>>;

/**
 * Pure: a unit file's sections and settings, as systemd reads them: `#` and `;` lines are
 * comments, a trailing backslash continues the line, a repeated key gives an array (in
 * order). Values are as written; `parseUnitText` interprets the ones we write.
 */
export function parseSections(text: string): UnitSections {
  const sections: UnitSections = {};
  let current: Record<string, string | string[]> | null = null;
  const lines = text.split(/\r?\n/);
  for (let n = 0; n < lines.length; n++) {
    let line = lines[n];
    while (/\\$/.test(line) && n + 1 < lines.length && !/^\s*[#;]/.test(line)) {
      line = `${line.slice(0, -1)} ${lines[++n]}`;
    }
    const trimmed = line.trim();
    if (!trimmed || trimmed.startsWith('#') || trimmed.startsWith(';')) continue;
    const header = /^\[([^\]]+)\]$/.exec(trimmed);
    if (header) {
      current = sections[header[1]] ??= {};
      continue;
    }
    const eq = trimmed.indexOf('=');
    if (eq <= 0 || current === null) continue;
    const key = trimmed.slice(0, eq).trim();
    const value = trimmed.slice(eq + 1).trim();
    const had = current[key];
    current[key] = had === undefined ? value : [...(Array.isArray(had) ? had : [had]), value];
  }
  return sections;
}

function values(setting: string | string[] | undefined): string[] {
  return setting === undefined ? [] : Array.isArray(setting) ? setting : [setting];
}

/**
 * Pure: a unit read back for doctor's diff, or null when it is no service unit. ExecStart
 * becomes the argument list it runs, Environment an object of the variables it sets, the
 * paths the paths; so a diff names `Service.Environment.PATH`, not a quoted line.
 */
export function parseUnitText(text: string): JobDefinition | null {
  const sections = parseSections(text);
  const service = sections.Service;
  if (!service) return null;
  const out: Record<string, Record<string, unknown>> = {};
  for (const [name, settings] of Object.entries(sections)) {
    const section: Record<string, unknown> = {};
    for (const [key, setting] of Object.entries(settings)) {
      if (name === 'Service' && key === 'ExecStart') {
        // The last non-empty one counts; an empty one resets the list.
        const last = values(setting).at(-1) ?? '';
        // The program word's `$` is literal; the arguments' `$$` is one `$`.
        section.ExecStart = splitWords(last).map((w, i) =>
          i === 0 ? unescapePercent(w) : unescapePercent(w).replace(/\$\$/g, '$'),
        );
      } else if (name === 'Service' && key === 'Environment') {
        const env: Record<string, string> = {};
        for (const line of values(setting)) {
          if (!line) {
            for (const k of Object.keys(env)) delete env[k];
            continue;
          }
          for (const word of splitWords(unescapePercent(line))) {
            const eq = word.indexOf('=');
            if (eq > 0) env[word.slice(0, eq)] = word.slice(eq + 1);
          }
        }
        section.Environment = env;
      } else {
        section[key] = Array.isArray(setting) ? setting.map(unescapePercent) : unescapePercent(setting);
      }
    }
    out[name] = section;
  }
  return out;
}

/** The argument list a parsed unit runs. */
export function getUnitProgramArguments(definition: JobDefinition): string[] | null {
  const service = definition.Service;
  if (!service || typeof service !== 'object') return null;
  const argv = (service as Record<string, unknown>).ExecStart;
  if (!Array.isArray(argv) || argv.length === 0 || !argv.every((a) => typeof a === 'string')) return null;
  const wrapped = argv.length > EXEC_WRAPPER.length && EXEC_WRAPPER.every((w, i) => argv[i] === w);
  return wrapped ? argv.slice(EXEC_WRAPPER.length) : argv;
}

// ---------------------------------------------------------------- rendering

/** The settings the template leaves empty for the job to fill, each exactly once. */
export const SLOTS = ['Description', 'ExecStart', 'WorkingDirectory', 'Environment', 'StandardOutput', 'StandardError'];

export function readUnitTemplate(kind: JobKind, root = getToolRoot()): string {
  const path = join(root, 'templates', 'systemd', `${kind}.service`);
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new OpsError(
      `The systemd unit template ${path} cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}).`,
      'Reinstall localhost-ops: its templates folder is incomplete.',
    );
  }
}

/** Pure: the lines that fill each slot for this job. */
function getSlotLines(spec: JobSpec): Record<string, string[]> {
  const env = Object.entries(spec.environment).map(([k, v]) => `Environment=${quoteEnvironment(k, v)}`);
  return {
    Description: [`Description=localhost-ops ${spec.kind} job (${spec.label.replace(/%/g, '%%')})`],
    ExecStart: [`ExecStart=${formatExecStart(spec.programArguments)}`],
    WorkingDirectory: [`WorkingDirectory=${escapePath(spec.workingDirectory, 'working directory')}`],
    // An empty Environment= would reset the list: with no variables, the slot goes.
    Environment: env,
    StandardOutput: [`StandardOutput=append:${escapePath(spec.stdoutPath, 'log path')}`],
    StandardError: [`StandardError=append:${escapePath(spec.stderrPath, 'log path')}`],
  };
}

/**
 * Pure given the template text: what install writes for this job. The template's lines
 * are kept as written (comments too), and each empty slot (`ExecStart=`…) is replaced by
 * the job's own values. Both jobs are resident processes that systemd keeps running
 * (Restart=always); the sync interval is the sync command's business, not the unit's.
 */
export function renderUnitText(spec: JobSpec, templateText = readUnitTemplate(spec.kind)): string {
  const fill = getSlotLines(spec);
  const filled = new Set<string>();
  const out: string[] = [];
  for (const line of templateText.replace(/\r\n/g, '\n').split('\n')) {
    const slot = /^([A-Za-z]+)=\s*$/.exec(line);
    if (slot && SLOTS.includes(slot[1])) {
      if (filled.has(slot[1])) throw new OpsError(`The systemd ${spec.kind} template has ${slot[1]}= twice.`);
      filled.add(slot[1]);
      out.push(...fill[slot[1]]);
    } else {
      out.push(line);
    }
  }
  const missing = SLOTS.filter((s) => !filled.has(s));
  if (missing.length) {
    throw new OpsError(
      `The systemd ${spec.kind} template lacks the empty ${missing.map((s) => `${s}=`).join(', ')} line${missing.length > 1 ? 's' : ''} to fill.`,
      'Reinstall localhost-ops: its templates folder is damaged.',
    );
  }
  const text = out.join('\n');
  return text.endsWith('\n') ? text : `${text}\n`;
}

// ---------------------------------------------------------------- systemctl show

/** The properties read from `systemctl --user show`; nothing else systemctl prints is read. */
export const SHOW_PROPERTIES = [
  'LoadState',
  'ActiveState',
  'SubState',
  'MainPID',
  'ExecMainStatus',
  'NRestarts',
  'UnitFileState',
  'NeedDaemonReload',
] as const;

export interface UnitState {
  loadState: string;
  activeState: string;
  subState: string;
  mainPid: number | null;
  execMainStatus: number | null;
  nRestarts: number;
  /** enabled, disabled, static… ('' when there is no unit file). */
  unitFileState: string;
  /** The unit file changed on disk since systemd loaded it. */
  needDaemonReload: boolean;
}

/** Pure: `show -p …` output (Key=Value lines, in any order) into a UnitState. */
export function parseShow(text: string): UnitState {
  const map = new Map<string, string>();
  for (const line of text.split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) map.set(line.slice(0, eq), line.slice(eq + 1).trim());
  }
  const int = (key: string): number | null => {
    const v = map.get(key);
    return v !== undefined && /^\d+$/.test(v) ? Number(v) : null;
  };
  const pid = int('MainPID');
  return {
    loadState: map.get('LoadState') ?? '',
    activeState: map.get('ActiveState') ?? '',
    subState: map.get('SubState') ?? '',
    mainPid: pid !== null && pid > 0 ? pid : null,
    execMainStatus: int('ExecMainStatus'),
    nRestarts: int('NRestarts') ?? 0,
    unitFileState: map.get('UnitFileState') ?? '',
    needDaemonReload: map.get('NeedDaemonReload') === 'yes',
  };
}

/** The unit's process runs (its main process is up, not waiting to restart). */
export function isUnitRunning(state: UnitState): boolean {
  return state.activeState === 'active' && state.subState === 'running' && state.mainPid !== null;
}

/** Up or on its way back: running, starting, or waiting out RestartSec after an exit. */
export function isUnitUp(state: UnitState): boolean {
  return ['active', 'activating', 'reloading'].includes(state.activeState);
}

/** The main process exited with a failure and systemd is restarting it, or gave up. */
export function isUnitFailing(state: UnitState): boolean {
  if (state.activeState === 'failed') return true;
  return state.subState === 'auto-restart' && state.execMainStatus !== null && state.execMainStatus !== 0;
}

/** What systemd's own exit codes (200–243) mean, for the ones a job here can meet. */
const SYSTEMD_EXITS: Record<number, (spec?: JobSpec) => string> = {
  200: (spec) => `its working directory${spec ? ` ${spec.workingDirectory}` : ''} could not be entered`,
  203: (spec) => `its program${spec ? ` ${spec.programArguments[0]}` : ''} could not be executed`,
  209: (spec) => `its log file${spec ? ` ${spec.stdoutPath}` : ''} could not be opened`,
  217: () => 'its user could not be set',
};

/** Pure: "exited with status 1", or what one of systemd's own codes means. */
export function describeExit(status: number | null, spec?: JobSpec): string {
  if (status === null) return 'stopped';
  const own = SYSTEMD_EXITS[status];
  return own ? `failed with status ${status} (${own(spec)})` : `exited with status ${status}`;
}

export type UnitAction = 'none' | 'start' | 'restart';

/**
 * Pure: what apply does to one unit. A changed unit that runs is restarted; one that is
 * not up is started; an unchanged one that is up is left alone, except a server that is
 * down (waiting out RestartSec after a crash), which is restarted at once. `enable` says
 * whether it must be enabled first (not yet linked into default.target).
 */
export function planUnit(kind: JobKind, changed: boolean, state: UnitState): { enable: boolean; action: UnitAction } {
  const enable = state.unitFileState !== 'enabled';
  if (!isUnitUp(state)) return { enable, action: 'start' };
  if (changed) return { enable, action: 'restart' };
  if (kind === 'server' && !isUnitRunning(state)) return { enable, action: 'restart' };
  return { enable, action: 'none' };
}
