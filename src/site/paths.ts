/** Where things live on disk (DESIGN §2). Pure except for reading the environment. */
import { createHash } from 'node:crypto';
import { homedir, tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

export const NAME_RE = /^[a-z0-9][a-z0-9._-]{0,62}$/;
export const WORKTREE_BRANCH = 'localhost-sync';

export function getHome(): string {
  return process.env.HOME || homedir();
}

export function getOpsHome(): string {
  const custom = process.env.LOCALHOST_OPS_HOME;
  return custom ? resolve(custom) : join(getHome(), 'ops-local');
}

export const SLOTS = ['a', 'b'] as const;
export type Slot = (typeof SLOTS)[number];

export function isSlot(value: unknown): value is Slot {
  return value === 'a' || value === 'b';
}

export function getOtherSlot(slot: Slot): Slot {
  return slot === 'a' ? 'b' : 'a';
}

export interface SitePaths {
  dir: string;
  config: string;
  /** The symlink to the live slot (a first-release site has its single worktree here). */
  worktree: string;
  slotsDir: string;
  slots: Record<Slot, string>;
  /** run/server.json: the server agent's state, written on every change. */
  serverState: string;
  /** run/control.sock, unless that path is too long for a unix socket (see server.json). */
  controlSocket: string;
  lastSync: string;
  diagnosis: string;
  logs: string;
  syncLog: string;
  serverLog: string;
  lock: string;
  runDir: string;
}

export function getSitePaths(name: string, opsHome = getOpsHome()): SitePaths {
  const dir = join(opsHome, name);
  const logs = join(dir, 'logs');
  const slotsDir = join(dir, 'slots');
  const runDir = join(dir, 'run');
  return {
    dir,
    config: join(dir, 'config.json'),
    worktree: join(dir, 'localhost-worktree'),
    slotsDir,
    slots: { a: join(slotsDir, 'a'), b: join(slotsDir, 'b') },
    serverState: join(runDir, 'server.json'),
    controlSocket: getControlSocketPath(runDir),
    lastSync: join(dir, 'last-sync.env'),
    diagnosis: join(dir, 'last-diagnosis.txt'),
    logs,
    syncLog: join(logs, 'sync.log'),
    serverLog: join(logs, 'server.log'),
    lock: join(dir, 'sync.lock'),
    runDir,
  };
}

/** sun_path holds 104 bytes on macOS (108 on Linux); the shorter limit counts. */
const SOCKET_PATH_MAX = 100;

/**
 * run/control.sock, or a short path under the user's temp dir when that one is too long
 * for a unix socket (a deep LOCALHOST_OPS_HOME). Named by a hash of the long path, so the
 * agent and its clients find the same one without reading anything.
 */
export function getControlSocketPath(runDir: string): string {
  const wanted = join(runDir, 'control.sock');
  if (Buffer.byteLength(wanted) <= SOCKET_PATH_MAX) return wanted;
  const uid = process.getuid?.() ?? 0;
  return join(tmpdir(), `localhost-ops-${uid}-${createHash('sha256').update(wanted).digest('hex').slice(0, 16)}.sock`);
}

/** The tool's own entry file, which the jobs execute with an absolute Node path. */
export function getToolEntry(): string {
  return resolve(getToolRoot(), 'bin', 'localhost-ops.js');
}

/** The package folder: this file is dist/site/paths.js (or src/site/paths.ts under tsx). */
export function getToolRoot(): string {
  return resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
}

/** Shows $HOME as ~ in anything a person reads. */
export function tildify(text: string, home = getHome()): string {
  if (!home || home === '/') return text;
  return text
    .split(home + '/')
    .join('~/')
    .replace(new RegExp(`${escapeRe(home)}(?=$|[\\s"'])`, 'g'), '~');
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Folder-name → site name: lower-cased, anything else turned into '-'. */
export function getDefaultName(repoDir: string): string {
  const base = repoDir.replace(/\/+$/, '').split('/').pop() ?? '';
  return base
    .toLowerCase()
    .replace(/[^a-z0-9._-]/g, '-')
    .replace(/^[^a-z0-9]+/, '')
    .slice(0, 63);
}
