/**
 * Sites for the framework tests (DESIGN §10): stand-in CLIs for the dev servers that are too big
 * to install in a test, and a real Vite whose lockfile and npm cache are made once.
 *
 * A stand-in is a local `file:` package (`vendor/fake-next/`) whose `bin` npm ci links into
 * `node_modules/.bin`, as the real package's would. It accepts only the real CLI's dev flags and
 * exits 1 with "unknown option" on anything else, so a wrong row in the flag table fails at the
 * gate; given them, it answers HTTP on exactly that host and port with a body naming itself,
 * the argv it got and the environment DESIGN §9 promises.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { run } from './proc.js';
import { ROOT, type Fixture } from './fixture.js';

export interface StandIn {
  /** The bin npm links, and the word the dev script starts with. */
  bin: string;
  /** The package the real CLI ships in (the dependency's name in the site's package.json). */
  pkg: string;
  /** What the framework is called, as doctor names it (src/run/frameworks.ts). */
  title: string;
  /** The subcommand that starts the dev server. */
  sub: string;
  /** The real CLI's flags for the host and the port, each with a value; and its flags without one. */
  host: string[];
  port: string[];
  switches: string[];
}

/** Only the flags each real CLI's dev command takes for the host and the port (and not opening a browser). */
export const STAND_INS: Record<string, StandIn> = {
  next: {
    bin: 'next',
    pkg: 'next',
    title: 'Next.js',
    sub: 'dev',
    host: ['--hostname', '-H'],
    port: ['--port', '-p'],
    switches: [],
  },
  nuxt: { bin: 'nuxt', pkg: 'nuxt', title: 'Nuxt', sub: 'dev', host: ['--host'], port: ['--port'], switches: [] },
  docusaurus: {
    bin: 'docusaurus',
    pkg: '@docusaurus/core',
    title: 'Docusaurus',
    sub: 'start',
    host: ['--host'],
    port: ['--port'],
    switches: ['--no-open'],
  },
  gatsby: {
    bin: 'gatsby',
    pkg: 'gatsby',
    title: 'Gatsby',
    sub: 'develop',
    host: ['--host'],
    port: ['--port'],
    switches: [],
  },
  astro: { bin: 'astro', pkg: 'astro', title: 'Astro', sub: 'dev', host: ['--host'], port: ['--port'], switches: [] },
};

/** The environment a dev server gets (DESIGN §9), echoed in every stand-in's answer. */
export const ECHOED_ENV = ['NODE_ENV', 'NO_COLOR', 'FORCE_COLOR', 'BROWSER', 'ASTRO_DEV_BACKGROUND', 'HOST', 'PORT'];

function standInCli(s: StandIn): string {
  return `#!/usr/bin/env node
'use strict';
// A stand-in for \`${s.bin} ${s.sub}\`: its real host and port flags only; anything else is an error, as in the real CLI.
const http = require('node:http');
const spec = ${JSON.stringify(s)};
const argv = process.argv.slice(2);
const fail = (message) => {
  console.error(spec.bin + ': ' + message);
  process.exit(1);
};
if (argv[0] !== spec.sub) fail("error: unknown command '" + (argv[0] || '') + "' (this stand-in runs only " + spec.bin + ' ' + spec.sub + ')');
let host = null;
let port = null;
for (let i = 1; i < argv.length; i++) {
  let flag = argv[i];
  let value;
  const eq = flag.indexOf('=');
  if (flag.startsWith('--') && eq > 0) [flag, value] = [flag.slice(0, eq), flag.slice(eq + 1)];
  if (spec.switches.includes(flag) && value === undefined) continue;
  const isHost = spec.host.includes(flag);
  if (!isHost && !spec.port.includes(flag)) fail("error: unknown option '" + argv[i] + "'");
  if (value === undefined) value = argv[++i];
  if (value === undefined || value.startsWith('-')) fail("error: option '" + flag + "' argument missing");
  if (isHost) host = value;
  else port = value;
}
// The real CLIs fall back to a fixed port and all interfaces; a test never may.
if (host === null) fail('no host flag given (' + spec.host.join(', ') + ')');
if (port === null || !/^[0-9]+$/.test(port)) fail('no port flag given (' + spec.port.join(', ') + ')');
const env = ${JSON.stringify(ECHOED_ENV)}.map((k) => k + '=' + (process.env[k] === undefined ? '(unset)' : process.env[k]));
const body = spec.title + ' dev server (stand-in) on ' + host + ':' + port + '\\nargv: ' + argv.join(' ') + '\\nenv: ' + env.join(' ') + '\\n';
const server = http.createServer((req, res) => {
  res.writeHead(200, { 'content-type': 'text/plain' });
  res.end(body);
});
server.on('error', (err) => fail('cannot listen on ' + host + ':' + port + ': ' + err.message));
server.listen(Number(port), host, () => console.log(spec.title + ' stand-in ready on http://' + host + ':' + port + '/'));
process.on('SIGTERM', () => process.exit(0));
`;
}

/** cross-env: leading VAR=value words set the environment, the rest is the command, run without a shell. */
const CROSS_ENV_CLI = `#!/usr/bin/env node
'use strict';
const { spawn } = require('node:child_process');
const args = process.argv.slice(2);
const env = { ...process.env };
while (args.length > 0 && /^[A-Za-z_][A-Za-z0-9_]*=/.test(args[0])) {
  const word = args.shift();
  env[word.slice(0, word.indexOf('='))] = word.slice(word.indexOf('=') + 1);
}
if (args.length === 0) {
  console.error('cross-env: no command given');
  process.exit(1);
}
const child = spawn(args[0], args.slice(1), { stdio: 'inherit', env });
child.on('error', (err) => {
  console.error('cross-env: ' + err.message);
  process.exit(1);
});
for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP']) process.on(signal, () => child.kill(signal));
child.on('exit', (code, signal) => process.exit(code === null ? 128 + (signal === 'SIGKILL' ? 9 : 15) : code));
`;

export interface Vendored {
  /** The dependency to add to the site's package.json. */
  dep: Record<string, string>;
  /** The package's files, by path in the repository; `executable` are bins. */
  files: Record<string, string>;
  executable: string[];
}

function vendored(name: string, dir: string, bin: string, cli: string): Vendored {
  const pkg = { name, version: '0.0.0-standin', private: true, bin: { [bin]: 'cli.js' } };
  return {
    dep: { [name]: `file:${dir}` },
    files: { [`${dir}/package.json`]: JSON.stringify(pkg, null, 2) + '\n', [`${dir}/cli.js`]: cli },
    executable: [`${dir}/cli.js`],
  };
}

export function standInPackage(s: StandIn): Vendored {
  return vendored(s.pkg, `vendor/fake-${s.bin}`, s.bin, standInCli(s));
}

export function crossEnvPackage(): Vendored {
  return vendored('cross-env', 'vendor/fake-cross-env', 'cross-env', CROSS_ENV_CLI);
}

/** The tiny site's files that a framework site does without (src/../site.ts). */
const TINY_SITE = ['server.js', 'content.txt', 'vendor/greeting/package.json', 'vendor/greeting/index.js'];

function writeFiles(dir: string, files: Record<string, string | null>, executable: string[] = []): void {
  for (const [path, text] of Object.entries(files)) {
    const full = join(dir, path);
    if (text === null) rmSync(full, { force: true });
    else {
      mkdirSync(dirname(full), { recursive: true });
      writeFileSync(full, text);
    }
  }
  // Committed executable, so npm's chmod of a linked bin leaves the slot's checkout clean.
  for (const path of executable) chmodSync(join(dir, path), 0o755);
}

/**
 * Replaces the tiny site with one whose `dev` script is `script` and whose dependencies are the
 * given stand-ins, locks it with real npm (offline: only `file:` packages), and pushes it to main.
 */
export async function pushStandInSite(fx: Fixture, script: string, packages: Vendored[]): Promise<string> {
  const files: Record<string, string | null> = Object.fromEntries(TINY_SITE.map((p) => [p, null]));
  const deps: Record<string, string> = {};
  const executable: string[] = [];
  for (const p of packages) {
    Object.assign(files, p.files);
    Object.assign(deps, p.dep);
    executable.push(...p.executable);
  }
  const pkg = { name: 'framework-site', version: '1.0.0', private: true, scripts: { dev: script }, dependencies: deps };
  files['package.json'] = JSON.stringify(pkg, null, 2) + '\n';
  writeFiles(fx.upstream, files, executable);
  rmSync(join(fx.upstream, 'package-lock.json'), { force: true });
  await run('npm', ['install', '--package-lock-only', '--offline', '--no-audit', '--no-fund'], {
    cwd: fx.upstream,
    env: fx.env,
    timeoutMs: 120_000,
  });
  return fx.push({}, `a ${script} site`);
}

// ------------------------------------------------------------------- a real Vite

/** The newest Vite whose engines allow Node 20.19 and whose lockfile npm ci accepts here (8.x names an optional dependency this registry lacks). */
export const VITE_VERSION = '7.3.8';

export interface ViteCache {
  /** package-lock.json made by a real `npm install` of the site's package.json. */
  lockfile: string;
  /** An npm cache that holds every package of that lockfile, so each npm ci is quick. */
  npmCache: string;
}

function vitePackageJson(): string {
  const pkg = {
    name: 'vite-site',
    version: '1.0.0',
    private: true,
    type: 'module',
    scripts: { dev: 'vite' },
    devDependencies: { vite: VITE_VERSION },
  };
  return JSON.stringify(pkg, null, 2) + '\n';
}

function cacheRoot(): string {
  const modules = join(ROOT, 'node_modules');
  return existsSync(modules)
    ? join(modules, '.cache', 'localhost-ops-test-vite')
    : join(tmpdir(), 'localhost-ops-test-vite');
}

/**
 * Installs Vite from the registry once (per version, kept across runs) and returns its lockfile
 * and npm cache. Built in a folder of its own and renamed into place, so a run killed half-way or
 * a second test process never sees half a cache.
 */
export async function getViteCache(): Promise<ViteCache> {
  const dir = join(cacheRoot(), VITE_VERSION);
  const lockPath = join(dir, 'package-lock.json');
  if (!existsSync(lockPath)) {
    const building = `${dir}.building-${process.pid}`;
    rmSync(building, { recursive: true, force: true });
    mkdirSync(join(building, 'site'), { recursive: true });
    writeFileSync(join(building, 'site', 'package.json'), vitePackageJson());
    const env: NodeJS.ProcessEnv = { ...process.env, npm_config_cache: join(building, 'npm-cache') };
    delete env.npm_config_prefer_offline;
    delete env.npm_config_offline;
    try {
      await run('npm', ['install', '--no-audit', '--no-fund'], {
        cwd: join(building, 'site'),
        env,
        timeoutMs: 180_000,
      });
      await run(process.execPath, ['node_modules/vite/bin/vite.js', '--version'], {
        cwd: join(building, 'site'),
        timeoutMs: 30_000,
      });
      writeFileSync(join(building, 'package-lock.json'), readFileSync(join(building, 'site', 'package-lock.json')));
      rmSync(join(building, 'site'), { recursive: true, force: true });
      try {
        renameSync(building, dir);
      } catch {
        // Another run made it first: use that one.
      }
    } finally {
      rmSync(building, { recursive: true, force: true });
    }
  }
  return { lockfile: readFileSync(lockPath, 'utf8'), npmCache: join(dir, 'npm-cache') };
}

/**
 * Points every npm this fixture runs (the CLI's own and the jobs', which get only HOME) at the
 * warm cache, preferring it to the registry.
 */
export function useNpmCache(fx: Fixture, npmCache: string): void {
  fx.env.npm_config_cache = npmCache;
  fx.env.npm_config_prefer_offline = 'true';
  writeFileSync(join(fx.home, '.npmrc'), `cache=${npmCache}\nprefer-offline=true\n`);
}

export function viteIndexHtml(marker: string): string {
  return `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <title>${marker}</title>
  </head>
  <body>
    <h1 id="marker">${marker}</h1>
  </body>
</html>
`;
}

/** Replaces the tiny site with a Vite site (`dev: vite`, index.html naming marker) and pushes it to main. */
export async function pushViteSite(fx: Fixture, marker: string): Promise<string> {
  const { lockfile, npmCache } = await getViteCache();
  useNpmCache(fx, npmCache);
  const files: Record<string, string | null> = Object.fromEntries(TINY_SITE.map((p) => [p, null]));
  Object.assign(files, {
    'package.json': vitePackageJson(),
    'package-lock.json': lockfile,
    'index.html': viteIndexHtml(marker),
  });
  writeFiles(fx.upstream, files);
  return fx.push({}, 'a Vite site');
}
