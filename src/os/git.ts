/**
 * Every git command the tool runs, each through simple-git, with its traps handled here:
 * - `fetch('origin')` drops the remote: every command goes through `.raw()` with the
 *   remote and the refspec spelled out.
 * - A non-zero exit with empty stderr resolves to "": the `errors` hook reads every exit
 *   and lets none reject, and `runGit` checks the exit code itself.
 * - A command that prints nothing costs ~50 ms more: the calls of a no-op sync ask git to
 *   print something (`fetch --verbose`, `status --branch`), which brings them back to the
 *   cost of a plain spawn.
 * - Its timeout signals git alone: each git here runs in a process group of its own, and a
 *   timeout ends that whole group (ssh and the http helpers too) and returns at once.
 * In the canonical repo only refs/remotes/*, the localhost-sync branch and worktree
 * bookkeeping are ever written.
 */
import { readFileSync, existsSync, statSync } from 'node:fs';
import { join, resolve, isAbsolute } from 'node:path';
import { simpleGit, type SimpleGit } from 'simple-git';
import { killQuietly, sleep, getExitCode, type RunResult } from './exec.js';
import { hasGitProcessIn } from './listeners.js';
import { GitError, oneLine, type GitErrorKind } from '../errors.js';

// Never wait for a password or an editor, never page, never translate messages we match.
const GIT_ENV = {
  GIT_TERMINAL_PROMPT: '0',
  GIT_OPTIONAL_LOCKS: '0',
  LC_ALL: 'C',
  GIT_PAGER: 'cat',
  GIT_EDITOR: 'true',
};

/**
 * Variables that point git at another repository, index or work tree than the folder each
 * call names. A git hook sets them; run from one, we would otherwise work on the wrong repo.
 */
const RELOCATING = new Set([
  'GIT_DIR',
  'GIT_WORK_TREE',
  'GIT_INDEX_FILE',
  'GIT_COMMON_DIR',
  'GIT_OBJECT_DIRECTORY',
  'GIT_ALTERNATE_OBJECT_DIRECTORIES',
  'GIT_NAMESPACE',
  'GIT_PREFIX',
]);

function gitEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (value !== undefined && !RELOCATING.has(key.toUpperCase())) env[key] = value;
  }
  return { ...env, ...GIT_ENV };
}

/**
 * simple-git guards against arguments and variables from untrusted input. Ours are our
 * own: core.hooksPath (below), GIT_PAGER and GIT_EDITOR (above), and what the user's own
 * environment says about reaching the forge (GIT_SSH_COMMAND, askpass, config paths),
 * which git must keep seeing as the user's own git does; and protocol.file.allow for a
 * file:// submodule (updateSubmodules). Nothing else is unlocked.
 */
const UNSAFE = {
  allowUnsafeHooksPath: true,
  allowUnsafePager: true,
  allowUnsafeEditor: true,
  allowUnsafeAskPass: true,
  allowUnsafeSshCommand: true,
  allowUnsafeGitProxy: true,
  allowUnsafeConfigPaths: true,
  allowUnsafeConfigEnvCount: true,
  // protocol.file.allow, which updateSubmodules sets for its own call only (a file:// submodule).
  allowUnsafeProtocolOverride: true,
} as const;

/** The part of simple-git's plugin store used below: its own `spawnOptions` passes only uid and gid. */
interface PluginStore {
  add(plugin: { type: 'spawn.options' | 'spawn.after'; action: (value: never, context: never) => unknown }): () => void;
}

interface SpawnedContext {
  spawned: import('node:child_process').ChildProcess;
}

function getPluginStore(instance: SimpleGit): PluginStore {
  const store = (instance as unknown as { _plugins?: Partial<PluginStore> })._plugins;
  if (typeof store?.add !== 'function') {
    throw new GitError(
      'This simple-git no longer lets src/os/git.ts start git in a process group of its own.',
      'Pin simple-git to the version in package-lock.json.',
      [],
      null,
      '',
      'other',
    );
  }
  return store as PluginStore;
}

// ------------------------------------------------------------------ process groups

/**
 * Gits running now, each the leader of its own process group. Out of our group, a git is
 * out of reach of a Ctrl-C, a terminal's hangup or a stop aimed at our group, so while any
 * runs these are passed on: at our exit, and on a signal nobody else handles (a process
 * that handles its own, such as the agents, ends them through its exit).
 */
const liveGroups = new Set<number>();
const STOP_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

function endLiveGroups(): void {
  for (const pgid of liveGroups) killQuietly(-pgid, 'SIGTERM');
}

/**
 * Listeners other than ours and signal-exit's. signal-exit (execa loads it while a child
 * runs) dies by a signal only when it is alone, not counting other copies of itself; we
 * follow the same rule, counting it as it counts itself, so that one of us always does.
 */
function otherListeners(signal: NodeJS.Signals): number {
  const registry = globalThis as unknown as Record<symbol, { count?: unknown } | undefined>;
  const signalExit = registry[Symbol.for('signal-exit emitter')]?.count;
  return process.listenerCount(signal) - 1 - (typeof signalExit === 'number' ? signalExit : 0);
}

function onStopSignal(signal: NodeJS.Signals): void {
  if (otherListeners(signal) > 0) return;
  // Ours is the default action: end the gits, then die by the signal as we would have.
  endLiveGroups();
  liveGroups.clear();
  unwatchSignals();
  process.kill(process.pid, signal);
}
const signalListeners = new Map(STOP_SIGNALS.map((s) => [s, () => onStopSignal(s)]));

function watchSignals(): void {
  for (const [signal, listener] of signalListeners) process.on(signal, listener);
  process.on('exit', endLiveGroups);
}

function unwatchSignals(): void {
  for (const [signal, listener] of signalListeners) process.removeListener(signal, listener);
  process.removeListener('exit', endLiveGroups);
}

function trackGroup(pgid: number): void {
  if (liveGroups.size === 0) watchSignals();
  liveGroups.add(pgid);
}

function untrackGroup(pgid: number): void {
  if (liveGroups.delete(pgid) && liveGroups.size === 0) unwatchSignals();
}

/** After a timeout's SIGTERM (git removes its lock files), what is left of the group gets SIGKILL. */
const TIMEOUT_KILL_GRACE_MS = 500;
/** simple-git's own timeout, a backstop behind ours: it signals git alone. */
const BACKSTOP_MS = 5000;

// ------------------------------------------------------------------ running git

/** "git fetch", "git rev-parse": the subcommand, past any `-c key=value`. */
function gitLabel(args: string[]): string {
  const sub = args.find((a, i) => !a.startsWith('-') && args[i - 1] !== '-c');
  return sub ? `git ${sub}` : 'git';
}

interface GitRun extends RunResult {
  timedOut: boolean;
}

/**
 * One git command through simple-git, in a process group of its own. Resolves with how it
 * ended, whatever the exit code; rejects (GitError) only when git could not run at all.
 */
async function runGit(cwd: string, args: string[], timeoutMs: number): Promise<GitRun> {
  const what = gitLabel(args);
  const env = gitEnv();
  let stdout = '';
  let stderr = '';
  let instance: SimpleGit;
  try {
    instance = simpleGit({
      baseDir: cwd,
      binary: 'git',
      // The user's hooks (husky, reference-transaction, post-checkout) are for the user's own
      // git: they must not run every minute for the mirror.
      config: ['core.hooksPath=/dev/null'],
      maxConcurrentProcesses: 1,
      trimmed: false,
      timeout: { block: timeoutMs + BACKSTOP_MS, stdOut: false, stdErr: false },
      unsafe: UNSAFE,
      allowEnvironment: Object.keys(env),
      // Every exit passes here. None rejects: the exit code is checked below, so a failure
      // with nothing on stderr is never taken for an empty answer.
      errors: (_error, result) => {
        stdout = Buffer.concat(result.stdOut).toString('utf8');
        stderr = Buffer.concat(result.stdErr).toString('utf8');
        return undefined;
      },
    }).env(env);
  } catch (err) {
    if (!existsSync(cwd)) {
      throw new GitError(
        `${what} could not run: the folder ${cwd} does not exist.`,
        'Check that the folder was not moved or deleted.',
        args,
        null,
        '',
        'other',
      );
    }
    throw new GitError(`${what} could not start: ${(err as Error).message}.`, '', args, null, '', 'other');
  }

  let pid: number | undefined;
  let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  let spawnError: NodeJS.ErrnoException | undefined;
  let timedOut = false;
  let timer: NodeJS.Timeout | undefined;
  const store = getPluginStore(instance);
  store.add({
    type: 'spawn.options',
    action: (options: object) => ({ ...options, detached: true }),
  });
  store.add({
    type: 'spawn.after',
    action: (_value: undefined, { spawned }: SpawnedContext) => {
      pid = spawned.pid;
      if (pid === undefined) {
        spawned.once('error', (err) => (spawnError = err));
        return;
      }
      const pgid = pid;
      trackGroup(pgid);
      spawned.once('exit', (code, signal) => {
        exit = { code, signal };
        clearTimeout(timer);
        untrackGroup(pgid);
      });
      timer = setTimeout(() => {
        timedOut = true;
        killQuietly(-pgid, 'SIGTERM');
        setTimeout(() => killQuietly(-pgid, 'SIGKILL'), TIMEOUT_KILL_GRACE_MS).unref();
      }, timeoutMs);
    },
  });

  try {
    await instance.raw(args);
  } catch (err) {
    // simple-git refused it before it ran (an argument or a variable its guard blocks).
    throw new GitError(
      `${what} was refused by simple-git: ${oneLine((err as Error).message, 300)}`,
      '',
      args,
      null,
      '',
      'other',
    );
  } finally {
    clearTimeout(timer);
  }
  if (spawnError || !exit) {
    if (spawnError?.code === 'ENOENT') {
      throw new GitError('"git" was not found on PATH.', 'Install git or put it on PATH.', args, null, '', 'other');
    }
    const why = spawnError?.message ?? 'it never ran';
    throw new GitError(`${what} could not start: ${why}.`, '', args, null, stderr, 'other');
  }
  return { code: getExitCode(exit.code, exit.signal), stdout, stderr, timedOut };
}

function lastLines(text: string, n: number): string {
  return text.trim().split(/\r?\n/).slice(-n).join(' ');
}

/**
 * A git command in cwd. Rejects with a GitError on a timeout, and on a non-zero exit unless
 * allowFail (then the code says how it ended).
 */
export async function git(
  cwd: string,
  args: string[],
  opts: { timeoutMs?: number; allowFail?: boolean } = {},
): Promise<RunResult> {
  const timeoutMs = opts.timeoutMs ?? 60_000;
  const r = await runGit(cwd, args, timeoutMs);
  const what = gitLabel(args);
  if (r.timedOut) {
    throw new GitError(
      `${what} timed out after ${Math.round(timeoutMs / 1000)} s.`,
      '',
      args,
      r.code,
      r.stderr,
      'timeout',
    );
  }
  if (r.code !== 0 && !opts.allowFail) {
    const tail = oneLine(lastLines(r.stderr || r.stdout, 3), 300);
    throw new GitError(
      `${what} exited with ${r.code}${tail ? `: ${tail}` : '.'}`,
      '',
      args,
      r.code,
      r.stderr,
      getGitErrorKind(r.stderr),
    );
  }
  return { code: r.code, stdout: r.stdout, stderr: r.stderr };
}

/** The top folder of the repo holding dir, or null when dir is not in a git work tree. */
export async function getRepoTop(dir: string): Promise<string | null> {
  const r = await git(dir, ['rev-parse', '--show-toplevel'], { allowFail: true });
  return r.code === 0 ? r.stdout.trim() : null;
}

export async function hasRemote(repo: string, remote: string): Promise<boolean> {
  return (await git(repo, ['remote', 'get-url', '--', remote], { allowFail: true })).code === 0;
}

/**
 * A revision read back from disk (last-sync.env, a ref file) that starts with `-` would be
 * an option to git (`--upload-pack=…`, `--output=…`): it never reaches git. Where git takes
 * `--`, it comes before paths and remotes as well (DESIGN §3).
 */
function isOptionLike(rev: string): boolean {
  return rev.startsWith('-');
}

function verifyRev(rev: string, args: string[]): string {
  if (isOptionLike(rev) || rev === '') {
    throw new GitError(`"${rev}" is not a revision git may be given.`, '', args, null, '', 'other');
  }
  return rev;
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
        // --verbose, not --quiet: a no-op fetch then prints "= [up to date]", and simple-git
        // waits ~50 ms more after a command that prints nothing.
        '--verbose',
        '--no-write-fetch-head',
        '--no-recurse-submodules',
        '--',
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
  if (isOptionLike(ref)) return null;
  // No --quiet: a missing ref then says so on stderr instead of costing simple-git's wait.
  const r = await git(repo, ['rev-parse', '--verify', `${ref}^{commit}`, '--'], { allowFail: true });
  const sha = r.stdout.trim();
  return r.code === 0 && SHA_RE.test(sha) ? sha : null;
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

/**
 * The dependencies npm ci installs in a slot, at any depth (workspaces). They belong to the
 * slot, not to the commit, whether or not the site's .gitignore lists them: without this a
 * site that does not (measured: a repo with no .gitignore) had a live slot that was never
 * clean, so every sync prepared and swapped again, doctor failed worktree-clean, and each
 * prepare's clean deleted the standby's node_modules, so every swap ran npm ci.
 */
const DEPENDENCIES = 'node_modules';

/** Tracked edits and untracked files (ignored ones and the slot's node_modules do not count). */
export async function getDirtyPaths(worktree: string): Promise<string[]> {
  // --branch adds a "## ..." first line, so a clean tree prints something too.
  const { stdout } = await git(worktree, [
    'status',
    '--porcelain',
    '--branch',
    '--untracked-files=all',
    '--',
    '.',
    `:(exclude,glob)**/${DEPENDENCIES}/**`,
  ]);
  const lines = stdout.split('\n').filter((l) => l !== '');
  return lines[0]?.startsWith('## ') ? lines.slice(1) : lines;
}

/** Moves a slot to sha, detached: no branch of ours ever exists in the canonical repo. */
export async function checkoutDetached(worktree: string, sha: string): Promise<void> {
  const args = ['checkout', '--quiet', '--detach', '--force', sha, '--'];
  verifyRev(sha, args);
  await git(worktree, args, { timeoutMs: 120_000 });
}

/**
 * The commit's submodules, initialised and checked out (DESIGN §3). Modern git refuses a
 * file:// submodule inside `submodule update` unless protocol.file.allow says so; it is set
 * here, for this call only: the submodule URLs are the site's own, as for the user's git.
 * --force checks each one out even when its HEAD already names the commit: a first clone
 * whose checkout failed (a commit that pointed at a submodule commit never pushed) leaves
 * that HEAD over an empty folder, which a plain update takes for done.
 */
export async function updateSubmodules(worktree: string, timeoutMs: number): Promise<void> {
  await git(
    worktree,
    ['-c', 'protocol.file.allow=always', 'submodule', 'update', '--init', '--recursive', '--force', '--quiet'],
    { timeoutMs },
  );
}

/**
 * Removes untracked files from a slot (ignored ones and the slot's node_modules stay). -f
 * twice: also a submodule's folder that the commit no longer has, which checkout leaves
 * behind as an untracked repository and which would keep the slot from ever being clean.
 */
export async function cleanUntracked(worktree: string): Promise<void> {
  await git(worktree, ['clean', '-ffd', '--quiet', '-e', DEPENDENCIES], { timeoutMs: 120_000 });
}

export async function pruneWorktrees(repo: string): Promise<void> {
  await git(repo, ['worktree', 'prune']);
}

export async function addDetachedWorktree(repo: string, path: string, sha: string): Promise<void> {
  // -f: the path may still be registered to a worktree folder that was deleted.
  const args = ['worktree', 'add', '--quiet', '--detach', '-f', '--', path, sha];
  verifyRev(sha, args);
  await git(repo, args, { timeoutMs: 300_000 });
}

export async function removeWorktree(repo: string, path: string): Promise<void> {
  await git(repo, ['worktree', 'remove', '--force', '--force', '--', path], { allowFail: true });
  await pruneWorktrees(repo);
}

export async function deleteBranch(repo: string, branch: string): Promise<void> {
  await git(repo, ['branch', '-D', '--', branch], { allowFail: true });
}

/** A file's content at a commit, or null when the commit has no such file. */
export async function showFile(repo: string, sha: string, path: string): Promise<string | null> {
  if (isOptionLike(sha)) return null;
  const r = await git(repo, ['show', `${sha}:${path}`, '--'], { allowFail: true });
  return r.code === 0 ? r.stdout : null;
}

export async function lsRemote(
  repo: string,
  remote: string,
  branch: string,
  timeoutMs: number,
): Promise<string | null> {
  const r = await git(repo, ['ls-remote', '--heads', '--', remote, `refs/heads/${branch}`], { timeoutMs });
  const sha = r.stdout.trim().split(/\s+/)[0] ?? '';
  return SHA_RE.test(sha) ? sha : null;
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
