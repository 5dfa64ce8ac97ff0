/**
 * Which dev server a site's `dev` script starts, and the flags that put it on our host and port (DESIGN §10).
 * Pure, so the table and the script reading are tested without a site on disk.
 *
 * `npm run dev -- <flags>` appends the flags to the END of the script text, so the command that matters is
 * the last simple command: the last step of an `&&`/`;` chain (`npm run build:css && vite` → `vite`), and for
 * a pipe or an `||` fallback the flags would reach `tee` or `echo`, so those are not read as the server.
 * A script that backgrounds (`&`) or runs `concurrently` starts several processes: no flags, env only.
 */
import { basename } from 'node:path';

export interface Framework {
  id: string;
  title: string;
  /** argv words after `npm run <script> --`; `{host}` and `{port}` are filled in per site. */
  flags: string[];
}

/** A table row: a framework and the commands that start its dev server (`bin sub`, or `bin --flag` anywhere). */
export interface FrameworkRow extends Framework {
  commands: string[];
}

const HOST_PORT = ['--host', '{host}', '--port', '{port}'];
// Without --strictPort Vite moves to the next port when its own is busy, and the gate would probe the wrong server.
const VITE = [...HOST_PORT, '--strictPort'];

export const FRAMEWORKS: readonly FrameworkRow[] = [
  { id: 'astro', title: 'Astro', commands: ['astro dev'], flags: HOST_PORT },
  { id: 'vite', title: 'Vite', commands: ['vite', 'vite dev', 'vite serve'], flags: VITE },
  { id: 'react-router', title: 'React Router (Vite)', commands: ['react-router dev'], flags: VITE },
  // Next rejects --host ("unknown option '--host'"); a bare `next` is `next dev`.
  { id: 'next', title: 'Next.js', commands: ['next', 'next dev'], flags: ['--hostname', '{host}', '--port', '{port}'] },
  { id: 'nuxt', title: 'Nuxt', commands: ['nuxt dev', 'nuxi dev'], flags: HOST_PORT },
  // Docusaurus opens a browser tab by default; a server started by a background job must not.
  { id: 'docusaurus', title: 'Docusaurus', commands: ['docusaurus start'], flags: [...HOST_PORT, '--no-open'] },
  { id: 'gatsby', title: 'Gatsby', commands: ['gatsby develop'], flags: HOST_PORT },
  // Eleventy's CLI takes no host flag; without --serve it builds once and exits.
  { id: 'eleventy', title: 'Eleventy', commands: ['eleventy --serve'], flags: ['--port', '{port}'] },
];

// These run on Vite's dev server, so the flags stay Vite's; the dependency only names the site better.
const ON_VITE: [dep: string, id: string, title: string][] = [
  ['@sveltejs/kit', 'sveltekit', 'SvelteKit (Vite)'],
  ['@react-router/dev', 'react-router', 'React Router (Vite)'],
  ['@solidjs/start', 'solid-start', 'SolidStart (Vite)'],
];

// Runners of several scripts: the appended flags would reach the runner, not one server.
const MULTI = new Set(['concurrently', 'npm-run-all', 'npm-run-all2', 'run-p', 'run-s']);
const ASSIGNMENT = /^[A-Za-z_][A-Za-z0-9_]*=/;
// Packages run by name through npx whose bin has another name.
const PACKAGE_BINS: Record<string, string> = { '@11ty/eleventy': 'eleventy', '@react-router/dev': 'react-router' };

type Script = 'dev' | 'start';

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function getDevScript(pkgJson: unknown): { script: Script; text: string } | null {
  const scripts = isRecord(pkgJson) && isRecord(pkgJson.scripts) ? pkgJson.scripts : {};
  for (const script of ['dev', 'start'] as const) {
    const text = scripts[script];
    if (typeof text === 'string' && text.trim() !== '') return { script, text };
  }
  return null;
}

/** The words of the script's last simple command, unquoted, redirections dropped; null for syntax not read here. */
function lastCommand(text: string): { words: string[]; background: boolean } | null {
  let words: string[] = [];
  let word: string | null = null; // null: no word started, so `""` still makes an (empty) word
  let background = false;
  let dropNext = false; // the word after `>` is a file name, not an argument
  const end = (): void => {
    if (word !== null && dropNext) dropNext = false;
    else if (word !== null) words.push(word);
    word = null;
  };
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === "'") {
      const close = text.indexOf("'", i + 1);
      if (close < 0) return null;
      word = (word ?? '') + text.slice(i + 1, close);
      i = close;
    } else if (c === '"') {
      let s = '';
      for (i++; i < text.length && text[i] !== '"'; i++) {
        s += text[i] === '\\' && '"\\$`'.includes(text[i + 1] ?? 'x') ? text[++i] : text[i];
      }
      if (i >= text.length) return null;
      word = (word ?? '') + s;
    } else if (c === '\\') {
      if (text[i + 1] !== '\n') word = (word ?? '') + (text[i + 1] ?? '');
      i++;
    } else if (c === ' ' || c === '\t') end();
    else if (c === ';' || c === '|' || c === '&' || c === '\n') {
      end();
      words = []; // a new command starts; `||` is two of these
      if (c === '&' && text[i + 1] === '&') i++;
      else if (c === '&') background = true;
    } else if (c === '>' || c === '<') {
      if (word !== null && /^\d+$/.test(word)) word = null; // `2>`: the fd number is not an argument
      end();
      if (text[i + 1] === '>') i++;
      if (text[i + 1] === '&')
        for (i++; /[\d-]/.test(text[i + 1] ?? ''); i++); // `2>&1` names no file
      else dropNext = true;
    } else if (c === '(' || c === ')' || c === '`')
      return null; // subshells: the server is not at the end
    else if (c === '#' && word === null)
      return null; // a comment would swallow the appended flags
    else word = (word ?? '') + c;
  }
  end();
  return { words, background };
}

/** Options before a wrapped command (`npx --yes vite`), up to and including a `--`. */
function skipOptions(w: string[], withValue: string[] = []): string[] {
  for (let i = 0; i < w.length; i++) {
    if (w[i] === '--') return w.slice(i + 1);
    if (!w[i]!.startsWith('-')) return w.slice(i);
    if (withValue.includes(w[i]!)) i++;
  }
  return [];
}

/** Sees through env assignments and runners that pass their trailing arguments on to the command they run. */
function unwrap(input: string[]): string[] {
  let w = input;
  for (;;) {
    while (w.length > 0 && ASSIGNMENT.test(w[0]!)) w = w.slice(1);
    const [a, b] = w;
    let next: string[] | null = null;
    if (a === 'npx' || a === 'bunx' || a === 'pnpx') next = skipOptions(w.slice(1), ['-p', '--package']);
    else if ((a === 'pnpm' || a === 'yarn' || a === 'bun') && (b === 'exec' || b === 'dlx' || b === 'x'))
      next = skipOptions(w.slice(2), ['--package']);
    else if (a === 'yarn' || a === 'cross-env') next = w.slice(1);
    else if (a === 'env') next = skipOptions(w.slice(1), ['-u', '--unset', '-C', '--chdir']);
    // Without `--`, npm exec and dotenv read the appended flags as their own options.
    else if ((a === 'npm' && (b === 'exec' || b === 'x')) || a === 'dotenv')
      next = w.includes('--') ? w.slice(w.indexOf('--') + 1) : null;
    if (next === null) break;
    w = next;
  }
  if (w.length === 0) return w;
  // `vite@5` and `@11ty/eleventy@2` are package specs; `node_modules/.bin/astro` is a path to the bin.
  let bin = w[0]!.replace(/(.)@[^/]*$/, '$1');
  bin = PACKAGE_BINS[bin] ?? (bin.includes('/') && !bin.startsWith('@') ? basename(bin) : bin);
  return [bin, ...w.slice(1)];
}

function readScript(text: string): { words: string[] } | { why: string } {
  const last = lastCommand(text);
  if (!last) return { why: 'uses shell syntax localhost-ops does not read (a subshell, a comment or an open quote)' };
  if (last.background) return { why: 'starts more than one process (`&`)' };
  const words = unwrap(last.words);
  if (MULTI.has(words[0] ?? '')) return { why: `runs several scripts (\`${words[0]}\`)` };
  return { words };
}

/** The words of the command npm's appended arguments reach (see the top of this file), wrappers removed; [] if none. */
export function getFirstCommand(scriptText: string): string[] {
  const r = readScript(scriptText);
  return 'words' in r ? r.words : [];
}

function runs(command: string, words: string[]): boolean {
  const [bin, arg] = command.split(' ');
  if (words[0] !== bin) return false;
  if (arg === undefined) return words[1] === undefined || words[1].startsWith('-');
  return arg.startsWith('-') ? words.includes(arg) : words[1] === arg;
}

export function detectFramework(
  pkgJson: unknown,
): { script: Script; framework: Framework | null; reason: string } | null {
  const dev = getDevScript(pkgJson);
  if (!dev) return null;
  const { script } = dev;
  const read = readScript(dev.text);
  if ('why' in read) return { script, framework: null, reason: `the ${script} script ${read.why}` };
  const shown = `\`${read.words.join(' ')}\``;
  const row = FRAMEWORKS.find((r) => r.commands.some((c) => runs(c, read.words)));
  if (!row) {
    const end = read.words.length > 0 ? `ends with ${shown}, not a known dev server` : 'ends on no command';
    return { script, framework: null, reason: `the ${script} script ${end}` };
  }
  const deps = isRecord(pkgJson) ? [pkgJson.dependencies, pkgJson.devDependencies] : [];
  const onVite = row.id === 'vite' ? ON_VITE.find(([dep]) => deps.some((d) => isRecord(d) && dep in d)) : undefined;
  const [id, title] = onVite ? [onVite[1], onVite[2]] : [row.id, row.title];
  const because = onVite ? ` and ${onVite[0]} is a dependency` : '';
  const framework = { id, title, flags: [...row.flags] };
  return { script, framework, reason: `the ${script} script runs ${shown}${because}` };
}

const shQuote = (s: string): string => `'${s.replaceAll("'", `'\\''`)}'`;
const displayWord = (s: string): string => (/^[\w@%+=:,./-]+$/.test(s) ? s : shQuote(s));
// One pass, so a host that contains `{port}` stays as it is.
const fill = (t: string, host: string, port: number): string =>
  t.replace(/\{(host|port)\}/g, (_, k: string) => (k === 'host' ? host : String(port)));

export function getDevCommand(
  pkgJson: unknown,
  host: string,
  port: number,
): { argv: string[]; framework: Framework | null; script: Script; display: string } | null {
  const found = detectFramework(pkgJson);
  if (!found) return null;
  const { script, framework } = found;
  // Separate argv words, no shell of ours: npm quotes what it appends, and nothing from package.json lands here.
  const argv = ['npm', 'run', script, ...(framework ? ['--', ...framework.flags.map((f) => fill(f, host, port))] : [])];
  return { argv, framework, script, display: argv.map(displayWord).join(' ') };
}

/**
 * A custom --command runs under sh. The host is an IP literal (install and the config check
 * refuse anything else), so it goes in bare: quoting it would put quotes inside a user's own
 * `--host "{host}"`.
 */
export function renderCustomCommand(template: string, host: string, port: number): string {
  // Anything but an IP literal (never reaching here from a checked config) is quoted all the same.
  return fill(template, /^[0-9A-Fa-f.:]+$/.test(host) ? host : shQuote(host), port);
}

/** The --command that puts a server that listens elsewhere where it was told: the framework's own flags. */
export function suggestCommand(framework: Framework | null, script: Script): string {
  return `npm run ${script} -- ${(framework?.flags ?? HOST_PORT).join(' ')}`;
}
