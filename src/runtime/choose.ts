/**
 * Which Node runs a site (DESIGN §5): the highest installed version that satisfies the
 * site's engines, among those node-search.ts finds; and the error that says where it
 * looked and what to install when none does.
 */
import { realpathSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import semver from 'semver';
import { NoNodeError, OpsError, UserError } from '../errors.js';
import { getHome, tildify } from '../site/paths.js';
import { run } from '../os/exec.js';
import { hasEngines, type Engines } from './engines.js';

export { getEngines, hasEngines, type Engines } from './engines.js';

import {
  collectCandidates,
  describeSearch,
  getSelfNode,
  isExecutableFile,
  readNodeInstall,
  readNpmVersion,
  type NodeInstall,
  type SearchEnv,
} from './search.js';

export {
  describeSearch,
  findNodeInstalls,
  getSelfNode,
  readNodeInstall,
  type NodeInstall,
  type SearchEnv,
} from './search.js';

const SATISFY = { includePrerelease: false } as const;

function satisfies(install: NodeInstall, engines: Engines): boolean {
  if (engines.node && !semver.satisfies(install.version, engines.node, SATISFY)) return false;
  if (engines.npm && !(install.npmVersion && semver.satisfies(install.npmVersion, engines.npm, SATISFY))) return false;
  return true;
}

export function pickNode(installs: NodeInstall[], engines: Engines): NodeInstall | null {
  let best: NodeInstall | null = null;
  for (const install of installs) {
    if (!satisfies(install, engines)) continue;
    if (!best || semver.gt(install.version, best.version)) best = install;
  }
  return best;
}

/**
 * Asks a binary for its version, as a Node answers `--version` ("v20.19.0"). `answer`: the
 * first line it printed, for the sentence that refuses it ("" when it printed nothing or
 * could not run).
 */
export async function askNodeVersion(
  bin: string,
  source: string,
): Promise<{ install: NodeInstall | null; answer: string }> {
  try {
    const { code, stdout, stderr } = await run(bin, ['--version'], { timeoutMs: 5000, allowFail: true });
    const answer = (stdout.trim() || stderr.trim()).split('\n')[0].slice(0, 120);
    const version = code === 0 && /^v\d+\.\d+\.\d+/.test(stdout.trim()) ? semver.valid(stdout.trim()) : null;
    if (!version) return { install: null, answer };
    return {
      install: { bin, binDir: dirname(bin), version, npmVersion: readNpmVersion(bin, realpathSync(bin)), source },
      answer,
    };
  } catch {
    return { install: null, answer: '' };
  }
}

/** The last resort for a binary whose files say nothing: ask it. */
async function probe(bin: string, source: string): Promise<NodeInstall | null> {
  return (await askNodeVersion(bin, source)).install;
}

/** The binary a `--node` pin names: the file itself, or a Node folder's bin/node. */
export function getPinnedBinary(pin: string, home = getHome()): string {
  const path = resolve(pin.replace(/^~(?=$|\/)/, home));
  return isExecutableFile(path) ? path : join(path, 'bin', 'node');
}

export function describeEngines(e: Engines): string {
  const parts = [e.node && `node "${e.node}"`, e.npm && `npm "${e.npm}"`].filter(Boolean);
  return parts.length ? parts.join(' and ') : 'any Node';
}

function getMinMajor(range: string | undefined): number | null {
  const min = range && semver.validRange(range) ? semver.minVersion(range) : null;
  return min && min.major > 0 ? min.major : null;
}

/** The package manager command that installs the Node a range needs, on this platform. */
export function getNodeInstallCommand(range: string | undefined, platform = process.platform): string | undefined {
  const major = getMinMajor(range);
  if (major === null) return undefined;
  return platform === 'darwin' ? `brew install node@${major}` : `nvm install ${major}`;
}

function installHint(engines: Engines): string {
  const major = getMinMajor(engines.node) ?? '';
  const brew = major ? `brew install node@${major}` : 'brew install node';
  const nvm = major ? `nvm install ${major}` : 'nvm install node';
  const npm = engines.npm ? ` with npm ${engines.npm}` : '';
  return `Install a matching Node${npm} (\`${brew}\` or \`${nvm}\`), or re-install with --node <path to a node binary>.`;
}

function validateRanges(engines: Engines): void {
  for (const key of ['node', 'npm'] as const) {
    const range = engines[key];
    if (range && semver.validRange(range) === null) {
      throw new UserError(
        `package.json engines.${key} "${range}" is not a version range.`,
        'Fix engines in the site\'s package.json, e.g. "node": ">=22.12".',
      );
    }
  }
}

export async function resolveNode(
  engines: Engines,
  opts: { pin?: string | null; search?: SearchEnv },
): Promise<NodeInstall> {
  const search = opts.search ?? { home: getHome(), env: process.env, platform: process.platform };
  validateRanges(engines);
  const wanted = hasEngines(engines) ? describeEngines(engines) : 'any version';

  if (opts.pin) {
    const bin = getPinnedBinary(opts.pin, search.home);
    const fix = 'Re-install with a different --node, or without it to pick one automatically.';
    if (!isExecutableFile(bin))
      throw new OpsError(
        `--node ${tildify(opts.pin, search.home)} is not an executable Node binary (site needs ${wanted}).`,
        fix,
      );
    // Its files first, so a sync spawns nothing; install asked it already (verifyNodePin, DESIGN §3).
    const install = readNodeInstall(bin, '--node') ?? (await probe(bin, '--node'));
    if (!install) throw new OpsError(`Could not read the version of --node ${tildify(bin, search.home)}.`, fix);
    if (!satisfies(install, engines)) {
      const npm = engines.npm ? `, npm ${install.npmVersion ?? 'not found'}` : '';
      throw new OpsError(
        `--node ${tildify(bin, search.home)} is Node ${install.version}${npm}, but the site needs ${wanted}.`,
        fix,
      );
    }
    return install;
  }

  if (!hasEngines(engines)) return getSelfNode();

  const fromEnv = search.env.LOCALHOST_OPS_NODE;
  const extra = fromEnv ? [{ bin: resolve(fromEnv), source: 'LOCALHOST_OPS_NODE' }] : [];
  const candidates = collectCandidates(search, extra);
  const probed = await Promise.all(candidates.map((c) => c.install ?? probe(c.bin, c.source)));
  const installs = probed.filter((i): i is NodeInstall => i !== null);
  const self = getSelfNode();
  if (!installs.some((i) => sameFile(i.bin, self.bin))) installs.push(self);
  const picked = pickNode(installs, engines);
  if (picked) return picked;

  const seen = installs.map((i) => `${i.version} (${i.source})`).join(', ');
  const lookedIn = describeSearch(search);
  const hint = installHint(engines);
  throw new NoNodeError(
    `No installed Node satisfies ${wanted}. Found: ${seen || 'none'}. Looked in: ${lookedIn.join(', ')}.`,
    hint,
    wanted,
    lookedIn,
    hint,
  );
}

function sameFile(a: string, b: string): boolean {
  try {
    return realpathSync(a) === realpathSync(b);
  } catch {
    return a === b;
  }
}
