/**
 * macOS privacy protection (TCC) and the jobs (DESIGN §2). A LaunchAgent's program gets no
 * share of the access Terminal was given: a job that reads ~/Documents, ~/Desktop,
 * ~/Downloads, iCloud Drive, a cloud storage folder or a volume under /Volumes fails with
 * "Operation not permitted" (EPERM). So install keeps the site folder, the slots and the tool
 * out of them; a canonical repo there is allowed, and doctor says what to grant when the
 * jobs' logs show they were refused.
 *
 * The decisions are pure functions of (path, home, platform), table-tested on Linux; the
 * callers pass real paths (resolveReal), so a symlinked HOME or LOCALHOST_OPS_HOME cannot
 * slip through.
 */
import { realpathSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import type { ServiceKind } from '../site/config.js';

export interface ProtectedPlace {
  /** The protected folder, as a person knows it: "~/Documents", "iCloud Drive", "/Volumes/Backup". */
  folder: string;
  /** Its real path, for "move it out of …" and for matching log lines. */
  path: string;
  kind: 'privacy' | 'external-volume';
}

/** Folders of the home that macOS guards, and what a person calls each. */
const HOME_FOLDERS: { rel: string; name: string }[] = [
  { rel: 'Documents', name: '~/Documents' },
  { rel: 'Desktop', name: '~/Desktop' },
  { rel: 'Downloads', name: '~/Downloads' },
  { rel: 'Library/Mobile Documents', name: 'iCloud Drive (~/Library/Mobile Documents)' },
  // Dropbox, Google Drive, OneDrive and other File Provider folders.
  { rel: 'Library/CloudStorage', name: 'a cloud storage folder (~/Library/CloudStorage)' },
];

function trimSlashes(path: string): string {
  return path.length > 1 ? path.replace(/\/+$/, '') : path;
}

/** `path` is `folder` or inside it; APFS is case-insensitive by default, so case does not count. */
function isWithin(path: string, folder: string): boolean {
  const p = path.toLowerCase();
  const f = folder.toLowerCase();
  return p === f || p.startsWith(`${f}/`);
}

/**
 * Pure: the macOS protected folder `path` lies in, or null. Only on darwin: elsewhere nothing
 * guards these folders. `home` is the user's home (its real path).
 */
export function getProtectedPlace(path: string, home: string, platform: NodeJS.Platform): ProtectedPlace | null {
  if (platform !== 'darwin') return null;
  const p = trimSlashes(path);
  const volume = /^\/Volumes\/[^/]+/i.exec(p);
  if (volume) return { folder: volume[0], path: volume[0], kind: 'external-volume' };
  const h = trimSlashes(home);
  if (!h || h === '/') return null;
  for (const { rel, name } of HOME_FOLDERS) {
    const folder = `${h}/${rel}`;
    if (isWithin(p, folder)) return { folder: name, path: folder, kind: 'privacy' };
  }
  return null;
}

/**
 * The platform whose rules the jobs live under: launchd's are macOS's wherever it runs (the
 * tests' launchctl stand-in included); the other backends follow the machine.
 */
export function getJobPlatform(service: ServiceKind, platform: NodeJS.Platform = process.platform): NodeJS.Platform {
  return service === 'launchd' ? 'darwin' : platform;
}

/** The real path of `path`, or of its deepest existing ancestor with the rest appended (for what install has yet to create). */
export function resolveReal(path: string): string {
  const abs = resolve(path);
  let head = abs;
  let tail = '';
  for (;;) {
    try {
      return tail ? join(realpathSync.native(head), tail) : realpathSync.native(head);
    } catch {
      const up = dirname(head);
      if (up === head) return abs;
      tail = tail ? join(basename(head), tail) : basename(head);
      head = up;
    }
  }
}

export interface ProtectedPath<W extends string> {
  what: W;
  /** The path as given. */
  path: string;
  /** Its real path, when that differs (a symlink on the way). */
  real: string | null;
  place: ProtectedPlace;
}

/** The first of `paths` that really lies in a protected folder; both the given and the real home count. */
export function findProtectedPath<W extends string>(
  paths: [W, string][],
  home: string,
  platform: NodeJS.Platform,
): ProtectedPath<W> | null {
  if (platform !== 'darwin') return null;
  const homes = [...new Set([home, resolveReal(home)])];
  for (const [what, path] of paths) {
    const real = resolveReal(path);
    for (const candidate of [...new Set([resolve(path), real])]) {
      for (const h of homes) {
        const place = getProtectedPlace(candidate, h, platform);
        if (place) return { what, path, real: real !== resolve(path) ? real : null, place };
      }
    }
  }
  return null;
}

/** What a refusal by privacy protection looks like in a log: git's and Node's words for EPERM. */
const DENIED = /operation not permitted|\bEPERM\b/i;
/** Paths a log line names: quoted ('…', "…", `…`) or bare absolute ones. */
const QUOTED_PATH = /['"`](\/[^'"`]+)['"`]/g;
const BARE_PATH = /(?:^|[\s(=,])(\/[^\s'"`,:)]+)/g;

export interface Denial {
  /** The log line, as written. */
  line: string;
  /** The path it names that lies under one of the folders asked about. */
  path: string;
  /** Which of those folders. */
  under: string;
}

/**
 * Pure: the latest line of `lines` in which the system refused access ("Operation not
 * permitted", EPERM) to a path under one of `folders` (the canonical repo, the protected
 * folders), or null. Lines that name no such path are someone else's problem.
 */
export function findDenial(lines: string[], folders: string[]): Denial | null {
  const roots = folders.filter(Boolean).map(trimSlashes);
  for (let i = lines.length - 1; i >= 0; i--) {
    const line = lines[i];
    if (!DENIED.test(line)) continue;
    const paths = [...line.matchAll(QUOTED_PATH), ...line.matchAll(BARE_PATH)].map((m) => trimSlashes(m[1]));
    for (const path of paths) {
      const under = roots.find((root) => isWithin(path, root));
      if (under) return { line, path, under };
    }
  }
  return null;
}
