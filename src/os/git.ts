/**
 * Every git command the tool runs. A plain spawn of git per call: measured at ~21 ms for a
 * no-op fetch against ~70 ms through simple-git, which also waits ~50 ms after every
 * command that prints nothing. In the canonical repo only refs/remotes/*, the
 * localhost-sync branch and worktree bookkeeping are ever written.
 */
import { readFileSync, existsSync, statSync } from 'node:fs';
import { join, resolve, isAbsolute } from 'node:path';
import { run, sleep, type RunResult } from './exec.js';
import { hasGitProcessIn } from './listeners.js';
import { GitError, type GitErrorKind } from '../errors.js';

// Never wait for a password or an editor, never page, never translate messages we match.
const GIT_ENV = {
  GIT_TERMINAL_PROMPT: '0',
  GIT_OPTIONAL_LOCKS: '0',
  LC_ALL: 'C',
  GIT_PAGER: 'cat',
  GIT_EDITOR: 'true',
};

function gitEnv(): NodeJS.ProcessEnv {
  return { ...process.env, ...GIT_ENV };
}

export function git(
  cwd: string,
  args: string[],
  opts: { timeoutMs?: number; allowFail?: boolean } = {},
): Promise<RunResult> {
  // The user's hooks (husky, reference-transaction, post-checkout) are for the user's own
  // git: they must not run every minute for the mirror.
  return run('git', ['-c', 'core.hooksPath=/dev/null', ...args], {
    cwd,
    env: gitEnv(),
    timeoutMs: opts.timeoutMs ?? 60_000,
    allowFail: opts.allowFail,
  });
}

async function gitOut(cwd: string, args: string[]): Promise<string> {
  return (await git(cwd, args)).stdout.trim();
}

/** The top folder of the repo holding dir, or null when dir is not in a git work tree. */
export async function getRepoTop(dir: string): Promise<string | null> {
  const r = await git(dir, ['rev-parse', '--show-toplevel'], { allowFail: true });
  return r.code === 0 ? r.stdout.trim() : null;
}

export async function hasRemote(repo: string, remote: string): Promise<boolean> {
  return (await git(repo, ['remote', 'get-url', remote], { allowFail: true })).code === 0;
}

const REF_LOCK_RE =
  /cannot lock ref|Unable to create '[^']*\.lock'|unable to update local ref|is at [0-9a-f]+ but expected/i;

/**
 * Fetches remote/branch into refs/remotes/remote/branch. Retries while another git (the
 * user's own `git pull`) holds the ref lock. Auto-maintenance is off for this fetch: it
 * runs every minute, and housekeeping of the user's repo is the user's git's business.
 */
export async function fetchBranch(
  repo: string,
  remote: string,
  branch: string,
  timeoutMs = 30_000,
  onRetry?: (attempt: number) => void,
): Promise<void> {
  const refspec = `+refs/heads/${branch}:refs/remotes/${remote}/${branch}`;
  for (let attempt = 1; ; attempt++) {
    const r = await git(
      repo,
      [
        '-c',
        'maintenance.auto=false',
        '-c',
        'gc.auto=0',
        'fetch',
        '--no-tags',
        '--quiet',
        '--no-write-fetch-head',
        '--no-recurse-submodules',
        remote,
        refspec,
      ],
      { timeoutMs, allowFail: true },
    );
    if (r.code === 0) break;
    if (REF_LOCK_RE.test(r.stderr) && attempt < 20) {
      onRetry?.(attempt);
      await sleep(250 * Math.min(attempt, 4));
      continue;
    }
    const why = getGitErrorLines(r.stderr) || `exit ${r.code}`;
    throw new GitError(
      `git fetch ${remote} ${branch} failed: ${why}`,
      `Check that ${remote} is reachable: git -C ${repo} fetch ${remote} ${branch}`,
      ['fetch', remote, refspec],
      r.code,
      r.stderr,
      getGitErrorKind(r.stderr),
    );
  }
}

/** Pure: what kind of failure git's stderr reports, so callers never match its text themselves. */
export function getGitErrorKind(stderr: string): GitErrorKind {
  if (/couldn't find remote ref|no such ref|not our ref/i.test(stderr)) return 'no-such-ref';
  if (REF_LOCK_RE.test(stderr)) return 'ref-lock';
  if (
    /could not resolve host|connection refused|could not read from remote|unable to access|does not appear to be a git repository|connection timed out|network is unreachable/i.test(
      stderr,
    )
  )
    return 'unreachable';
  return 'other';
}

/** git's own error lines (fatal:/error:), not the advice it prints after them. */
export function getGitErrorLines(stderr: string): string {
  const lines = stderr
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  const errors = lines.filter((l) => /^(fatal|error):/.test(l));
  return (errors.length ? errors : lines.slice(-2)).slice(0, 2).join(' ');
}

export async function getRefSha(repo: string, ref: string): Promise<string | null> {
  const r = await git(repo, ['rev-parse', '--verify', '--quiet', `${ref}^{commit}`], { allowFail: true });
  return r.code === 0 ? r.stdout.trim() : null;
}

export interface MirrorHead {
  head: string | null;
  /** refs/heads/<branch>, or null on a detached HEAD. */
  branchRef: string | null;
}

const SHA_RE = /^[0-9a-f]{40,64}$/;

/**
 * HEAD, the branch it is on, and (optionally) another ref such as the fetched target, in
 * one spawn: a worktree shares its repo's refs.
 */
export async function getMirrorHead(worktree: string, alsoRef?: string): Promise<MirrorHead & { also: string | null }> {
  const args = ['rev-parse', 'HEAD', ...(alsoRef ? [`${alsoRef}^{commit}`] : []), '--symbolic-full-name', 'HEAD'];
  const r = await git(worktree, args, { allowFail: true });
  const lines = r.stdout.trim().split('\n');
  const ok = r.code === 0;
  const head = lines[0] ?? '';
  const also = alsoRef ? (lines[1] ?? '') : '';
  const ref = lines[alsoRef ? 2 : 1] ?? '';
  return {
    head: ok && SHA_RE.test(head) ? head : null,
    also: ok && SHA_RE.test(also) ? also : null,
    branchRef: ok && ref.startsWith('refs/heads/') ? ref : null,
  };
}

/** Tracked edits and untracked files (ignored ones, such as node_modules, do not count). */
export async function getDirtyPaths(worktree: string): Promise<string[]> {
  const out = await gitOut(worktree, ['status', '--porcelain', '--untracked-files=all']);
  return out ? out.split('\n') : [];
}

/** Moves a slot to sha, detached: no branch of ours ever exists in the canonical repo. */
export async function checkoutDetached(worktree: string, sha: string): Promise<void> {
  await git(worktree, ['checkout', '--quiet', '--detach', '--force', sha, '--'], { timeoutMs: 120_000 });
}

export async function updateSubmodules(worktree: string, timeoutMs: number): Promise<void> {
  await git(worktree, ['submodule', 'update', '--init', '--recursive', '--quiet'], { timeoutMs });
}

export async function cleanUntracked(worktree: string): Promise<void> {
  await git(worktree, ['clean', '-fd', '--quiet'], { timeoutMs: 120_000 });
}

export async function pruneWorktrees(repo: string): Promise<void> {
  await git(repo, ['worktree', 'prune']);
}

export async function addDetachedWorktree(repo: string, path: string, sha: string): Promise<void> {
  // -f: the path may still be registered to a worktree folder that was deleted.
  await git(repo, ['worktree', 'add', '--quiet', '--detach', '-f', '--', path, sha], { timeoutMs: 300_000 });
}

export async function removeWorktree(repo: string, path: string): Promise<void> {
  await git(repo, ['worktree', 'remove', '--force', '--force', path], { allowFail: true });
  await pruneWorktrees(repo);
}

export async function deleteBranch(repo: string, branch: string): Promise<void> {
  await git(repo, ['branch', '-D', '--', branch], { allowFail: true });
}

/** A file's content at a commit, or null when the commit has no such file. */
export async function showFile(repo: string, sha: string, path: string): Promise<string | null> {
  const r = await git(repo, ['show', `${sha}:${path}`], { allowFail: true });
  return r.code === 0 ? r.stdout : null;
}

export async function lsRemote(
  repo: string,
  remote: string,
  branch: string,
  timeoutMs: number,
): Promise<string | null> {
  const r = await git(repo, ['ls-remote', '--heads', remote, `refs/heads/${branch}`], { timeoutMs });
  return r.stdout.trim().split(/\s+/)[0] || null;
}

/**
 * The private git dir of a worktree, read from its `.git` file rather than by spawning git.
 * Null when the folder is missing or is a normal repo (a `.git` folder).
 */
export function getWorktreeGitDir(worktree: string): string | null {
  let text: string;
  try {
    text = readFileSync(join(worktree, '.git'), 'utf8');
  } catch {
    return null;
  }
  const m = /^gitdir:\s*(.+)$/m.exec(text);
  if (!m) return null;
  const dir = m[1].trim();
  return isAbsolute(dir) ? dir : resolve(worktree, dir);
}

export function getIndexLockPath(worktree: string): string | null {
  const gitDir = getWorktreeGitDir(worktree);
  return gitDir ? join(gitDir, 'index.lock') : null;
}

/** A lock only a moment old may belong to a git that is still starting. */
const INDEX_LOCK_GRACE_MS = 2000;

/** The age in ms of a leftover index.lock that no running git holds; null when there is none. */
export async function getStaleIndexLockAge(worktree: string): Promise<number | null> {
  const lock = getIndexLockPath(worktree);
  if (!lock) return null;
  let age: number;
  try {
    age = Date.now() - statSync(lock).mtimeMs;
  } catch {
    return null;
  }
  return age > INDEX_LOCK_GRACE_MS && !(await hasGitProcessIn(worktree)) ? age : null;
}

/** True when worktree is a linked worktree of repo (its git dir lives in repo's .git/worktrees). */
export function isWorktreeOf(worktree: string, repo: string): boolean {
  const gitDir = getWorktreeGitDir(worktree);
  if (!gitDir || !existsSync(gitDir)) return false;
  const common = resolve(gitDir, '..', '..');
  return common === resolve(repo, '.git');
}

/**
 * The sha a ref names, read from the repo's files rather than by spawning git: the sync
 * agent checks it on every change in the refs folder. Loose ref first, then packed-refs.
 */
export function readRefFromFiles(gitDir: string, ref: string): string | null {
  try {
    const loose = readFileSync(join(gitDir, ref), 'utf8').trim();
    if (/^[0-9a-f]{40,64}$/.test(loose)) return loose;
  } catch {
    // not loose
  }
  try {
    for (const line of readFileSync(join(gitDir, 'packed-refs'), 'utf8').split('\n')) {
      const [sha, name] = line.trim().split(' ');
      if (name === ref && /^[0-9a-f]{40,64}$/.test(sha)) return sha;
    }
  } catch {
    // no packed-refs
  }
  return null;
}
