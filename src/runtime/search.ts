/**
 * Where Nodes live (DESIGN §5) and what version each is, read from its own files: starting
 * a Node only to ask its version costs 40–120 ms per candidate, and the sync job runs all
 * day. Reads the filesystem only; choosing among them is node-runtime.ts's business.
 */
import { accessSync, constants, readFileSync, readdirSync, realpathSync, statSync } from 'node:fs';
import { basename, delimiter, dirname, isAbsolute, join, resolve, sep } from 'node:path';
import semver from 'semver';
import { tildify } from '../site/paths.js';
import { readJsonOrNull } from '../os/fs.js';

export interface NodeInstall {
  bin: string;
  binDir: string;
  /** '22.23.3', without the v. */
  version: string;
  npmVersion: string | null;
  /** 'nvm' | 'homebrew' | 'fnm' | 'volta' | 'asdf' | 'mise' | 'n' | 'PATH' | 'LOCALHOST_OPS_NODE' | '--node' | 'self' */
  source: string;
}

export interface SearchEnv {
  home: string;
  env: NodeJS.ProcessEnv;
  platform: NodeJS.Platform;
}

interface Place {
  source: string;
  /** A folder whose entries each hold a Node, or (entries: false) the node binary itself. */
  pattern: string;
}

/** Kept in one list so the search and the error message can never disagree. */
function getPlaces(search: SearchEnv): Place[] {
  const { env, home } = search;
  const dir = (name: string, fallback: string) => (env[name] ? resolve(env[name] as string) : fallback);
  const brew = [env.HOMEBREW_PREFIX ? resolve(env.HOMEBREW_PREFIX) : '', '/opt/homebrew', '/usr/local'];
  const places: Place[] = [...new Set(brew.filter(Boolean))].map((p) => ({
    source: 'homebrew',
    pattern: join(p, 'opt', 'node@*', 'bin', 'node'),
  }));
  places.push(
    { source: 'nvm', pattern: join(dir('NVM_DIR', join(home, '.nvm')), 'versions', 'node', '*', 'bin', 'node') },
    {
      source: 'fnm',
      pattern: join(
        dir('FNM_DIR', join(home, '.local', 'share', 'fnm')),
        'node-versions',
        '*',
        'installation',
        'bin',
        'node',
      ),
    },
  );
  if (search.platform === 'darwin') {
    places.push({
      source: 'fnm',
      pattern: join(home, 'Library', 'Application Support', 'fnm', 'node-versions', '*', 'installation', 'bin', 'node'),
    });
  }
  places.push(
    {
      source: 'volta',
      pattern: join(dir('VOLTA_HOME', join(home, '.volta')), 'tools', 'image', 'node', '*', 'bin', 'node'),
    },
    {
      source: 'asdf',
      pattern: join(dir('ASDF_DATA_DIR', join(home, '.asdf')), 'installs', 'nodejs', '*', 'bin', 'node'),
    },
    {
      source: 'mise',
      pattern: join(
        dir('MISE_DATA_DIR', join(home, '.local', 'share', 'mise')),
        'installs',
        'node',
        '*',
        'bin',
        'node',
      ),
    },
    { source: 'n', pattern: join(dir('N_PREFIX', '/usr/local'), 'n', 'versions', 'node', '*', 'bin', 'node') },
  );
  return places;
}

function getPathDirs(env: NodeJS.ProcessEnv): string[] {
  return [...new Set((env.PATH ?? '').split(delimiter).filter((d) => d && isAbsolute(d)))];
}

export function describeSearch(search: SearchEnv): string[] {
  const out: string[] = [];
  const pinned = search.env.LOCALHOST_OPS_NODE;
  if (pinned) out.push(`LOCALHOST_OPS_NODE (${tildify(pinned, search.home)})`);
  for (const place of getPlaces(search)) out.push(tildify(place.pattern, search.home));
  const dirs = getPathDirs(search.env);
  // The folders themselves are the user's own PATH; their count keeps the message one short line.
  out.push(dirs.length ? `PATH (${dirs.length} folder${dirs.length === 1 ? '' : 's'})` : 'PATH (empty)');
  return out;
}

export function isExecutableFile(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/** Expands the one '*' of a place; also matches a bare 'node' where the glob is 'node@*'. */
function expand(pattern: string): string[] {
  const parts = pattern.split(sep);
  const star = parts.findIndex((p) => p.includes('*'));
  const parent = parts.slice(0, star).join(sep) || sep;
  const prefix = parts[star].slice(0, parts[star].indexOf('*'));
  let names: string[];
  try {
    names = readdirSync(parent).sort();
  } catch {
    return [];
  }
  const keep = names.filter((n) => n.startsWith(prefix) || (prefix === 'node@' && n === 'node'));
  return keep.map((n) => [parent, n, ...parts.slice(star + 1)].join(sep));
}

export interface Candidate {
  bin: string;
  source: string;
  install: NodeInstall | null;
}

/** Everything executable in the usual places, first source wins per real file; version may be unknown. */
export function collectCandidates(search: SearchEnv, extra: Array<{ bin: string; source: string }> = []): Candidate[] {
  const found: Array<{ bin: string; source: string }> = [...extra];
  for (const place of getPlaces(search))
    for (const bin of expand(place.pattern)) found.push({ bin, source: place.source });
  for (const d of getPathDirs(search.env)) found.push({ bin: join(d, 'node'), source: 'PATH' });
  const seen = new Set<string>();
  const out: Candidate[] = [];
  for (const { bin, source } of found) {
    if (!isExecutableFile(bin)) continue;
    let real: string;
    try {
      real = realpathSync(bin);
    } catch {
      continue;
    }
    // volta, asdf, mise and nodenv put shims on PATH that choose a Node per folder; not a pin.
    if (
      source === 'PATH' &&
      (!/^node(js)?$/.test(basename(real)) || basename(dirname(real)) === 'shims' || basename(dirname(bin)) === 'shims')
    )
      continue;
    if (seen.has(real)) continue;
    seen.add(real);
    out.push({ bin, source, install: readNodeInstall(bin, source) });
  }
  return out;
}

export function findNodeInstalls(search: SearchEnv): NodeInstall[] {
  return collectCandidates(search).flatMap((c) => (c.install ? [c.install] : []));
}

function versionFromHeader(prefix: string): string | null {
  let text: string;
  try {
    text = readFileSync(join(prefix, 'include', 'node', 'node_version.h'), 'utf8');
  } catch {
    return null;
  }
  const part = (name: string) => new RegExp(`#define\\s+NODE_${name}_VERSION\\s+(\\d+)`).exec(text)?.[1];
  const [major, minor, patch] = [part('MAJOR'), part('MINOR'), part('PATCH')];
  return major && minor && patch ? semver.valid(`${major}.${minor}.${patch}`) : null;
}

/** nvm's v22.1.0, asdf's 22.1.0, a brew Cellar's 22.1.0_1; 'node@22' names only a major, so it does not count. */
function versionFromFolders(...paths: string[]): string | null {
  for (const path of paths) {
    for (const segment of path.split(sep).reverse()) {
      const m = /^v?(\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?)(_\d+)?$/.exec(segment);
      if (m) return semver.valid(m[1]);
    }
  }
  return null;
}

function versionFromPackage(prefix: string): string | null {
  const pkg = readJsonOrNull<Record<string, unknown>>(join(prefix, 'package.json'));
  // The registry's `node` package and its node-<os>-<cpu> halves ship a real binary under bin/.
  if (!pkg || typeof pkg.name !== 'string' || !/^node(-[a-z0-9]+-[a-z0-9]+)?$/.test(pkg.name)) return null;
  return typeof pkg.version === 'string' ? semver.valid(pkg.version) : null;
}

export function readNpmVersion(bin: string, real: string): string | null {
  const dirs = [
    join(dirname(dirname(real)), 'lib', 'node_modules', 'npm'),
    join(dirname(bin), '..', 'lib', 'node_modules', 'npm'),
  ];
  if (bin === '/usr/bin/node' || real.startsWith('/usr/bin/'))
    dirs.push('/usr/lib/node_modules/npm', '/usr/share/nodejs/npm');
  for (const d of dirs) {
    const version = readJsonOrNull<Record<string, unknown>>(join(d, 'package.json'))?.version;
    if (typeof version === 'string' && semver.valid(version)) return semver.valid(version);
  }
  return null;
}

export function readNodeInstall(bin: string, source: string): NodeInstall | null {
  let real: string;
  try {
    real = realpathSync(bin);
  } catch {
    return null;
  }
  const prefix = dirname(dirname(real));
  const version = versionFromHeader(prefix) ?? versionFromFolders(real, bin) ?? versionFromPackage(prefix);
  if (!version) return null;
  return { bin, binDir: dirname(bin), version, npmVersion: readNpmVersion(bin, real), source };
}

export function getSelfNode(): NodeInstall {
  const bin = process.execPath;
  let real = bin;
  try {
    real = realpathSync(bin);
  } catch {
    // keep execPath
  }
  return {
    bin,
    binDir: dirname(bin),
    version: process.version.replace(/^v/, ''),
    npmVersion: readNpmVersion(bin, real),
    source: 'self',
  };
}
