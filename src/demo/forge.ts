/**
 * The demo's repositories (DESIGN §12), under <ops home>/.demo/: a bare forge, an upstream
 * clone that merges "pull requests" into the forge's main, and the canonical clone that
 * site `demo` is installed from. Every git command goes through os/git.ts; every commit
 * carries its own author and committer, so no git identity of the user's is needed.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { git } from '../os/git.js';
import { ensureDir, writeFileAtomic } from '../os/fs.js';
import { getOpsHome } from '../site/paths.js';
import { FIRST_MESSAGE, getSiteFiles } from './site.js';

export const DEMO_SITE = 'demo';
const BRANCH = 'main';

export interface DemoPaths {
  root: string;
  forge: string;
  upstream: string;
  canonical: string;
  /** Written last: the demo's repositories are complete. */
  marker: string;
}

export function getDemoPaths(opsHome = getOpsHome()): DemoPaths {
  const root = join(opsHome, '.demo');
  return {
    root,
    forge: join(root, 'forge.git'),
    upstream: join(root, 'upstream'),
    canonical: join(root, 'canonical'),
    marker: join(root, 'demo.json'),
  };
}

/** The demo's commits say who made them; the user's signing setup is not asked for. */
const IDENTITY = [
  '-c',
  'user.name=localhost-ops demo',
  '-c',
  'user.email=demo@localhost-ops.invalid',
  '-c',
  'commit.gpgsign=false',
];

function writeFiles(dir: string, files: Record<string, string>): void {
  for (const [path, text] of Object.entries(files)) {
    const full = join(dir, path);
    mkdirSync(dirname(full), { recursive: true });
    writeFileSync(full, text);
  }
}

/** Builds the forge, upstream and canonical clone from nothing; returns the first commit. */
export async function createDemoRepos(paths: DemoPaths): Promise<string> {
  rmSync(paths.root, { recursive: true, force: true });
  ensureDir(paths.upstream);
  await git(paths.root, ['init', '-q', '--bare', paths.forge]);
  await git(paths.forge, ['symbolic-ref', 'HEAD', `refs/heads/${BRANCH}`]);
  await git(paths.upstream, ['init', '-q']);
  await git(paths.upstream, ['symbolic-ref', 'HEAD', `refs/heads/${BRANCH}`]);
  await git(paths.upstream, ['remote', 'add', 'origin', paths.forge]);
  writeFiles(paths.upstream, getSiteFiles(FIRST_MESSAGE));
  await git(paths.upstream, ['add', '-A']);
  await git(paths.upstream, [...IDENTITY, 'commit', '-q', '-m', 'Initial sample site']);
  await git(paths.upstream, ['push', '-q', 'origin', `HEAD:refs/heads/${BRANCH}`]);
  await git(paths.root, ['clone', '-q', '--branch', BRANCH, paths.forge, paths.canonical]);
  const sha = (await git(paths.upstream, ['rev-parse', 'HEAD'])).stdout.trim();
  writeFileAtomic(
    paths.marker,
    JSON.stringify({ createdBy: 'localhost-ops demo', createdAt: new Date().toISOString(), firstCommit: sha }) + '\n',
  );
  return sha;
}

/** How many commits main has: the number the next merged pull request gets. */
export async function countCommits(paths: DemoPaths): Promise<number> {
  return Number((await git(paths.upstream, ['rev-list', '--count', 'HEAD'])).stdout.trim()) || 0;
}

/**
 * A merged pull request: upstream takes the forge's main as it is, the files change, one
 * commit (never empty: a repeated text is a new merge too), and a push to the forge's main.
 * Returns the new commit.
 */
export async function mergeIntoMain(
  paths: DemoPaths,
  files: Record<string, string>,
  subject: string,
  body = '',
): Promise<string> {
  await git(paths.upstream, ['fetch', '-q', 'origin', `+refs/heads/${BRANCH}:refs/remotes/origin/${BRANCH}`]);
  await git(paths.upstream, ['reset', '-q', '--hard', `refs/remotes/origin/${BRANCH}`]);
  await git(paths.upstream, ['clean', '-q', '-fd']);
  writeFiles(paths.upstream, files);
  await git(paths.upstream, ['add', '-A']);
  const message = body ? ['-m', subject, '-m', body] : ['-m', subject];
  await git(paths.upstream, [...IDENTITY, 'commit', '-q', '--allow-empty', ...message]);
  await git(paths.upstream, ['push', '-q', 'origin', `HEAD:refs/heads/${BRANCH}`]);
  return (await git(paths.upstream, ['rev-parse', 'HEAD'])).stdout.trim();
}

/**
 * What an editor's background fetch does in the canonical clone: only its remote-tracking
 * ref moves, which the sync agent watches (DESIGN §3.2). Works with every service backend.
 */
export async function fetchInto(repo: string, remote: string, branch: string): Promise<void> {
  await git(repo, ['fetch', '-q', remote, `+refs/heads/${branch}:refs/remotes/${remote}/${branch}`]);
}
