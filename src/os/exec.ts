/**
 * The one module that starts processes. Every other module asks this one, so that a
 * missing program, a timeout or a non-zero exit always comes back as one sentence.
 * `run` goes through execa; the two long-lived starters below stay on node:child_process
 * (see spawnDetached).
 */
import { spawn } from 'node:child_process';
import { openSync, closeSync, readFileSync, readdirSync, existsSync } from 'node:fs';
import { constants } from 'node:os';
import { execa } from 'execa';
import { OpsError, oneLine } from '../errors.js';

export interface RunOptions {
  cwd?: string;
  /** The child's whole environment (nothing of ours is added); ours when not given. */
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
  /** Append the child's stdout and stderr to this file instead of capturing them. */
  logFile?: string;
  /** Resolve with the exit code instead of throwing when it is not 0. */
  allowFail?: boolean;
  /** Put the child in its own process group so a timeout ends its children too (npm ci). */
  group?: boolean;
  /** Told the child's pid once it runs (the process group id too, with `group`). */
  onStart?: (pid: number) => void;
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** "git fetch", "npm ci": the program and its subcommand, past any `-c key=value`. */
function label(file: string, args: string[]): string {
  const name = file.split('/').pop() ?? file;
  const sub = args.find((a, i) => !a.startsWith('-') && args[i - 1] !== '-c');
  return sub ? `${name} ${sub}` : name;
}

/**
 * Pure: a shell-style exit code. A child ended by a signal gives 128 + the signal's number
 * (SIGTERM 143, SIGKILL 137, SIGHUP 129); one that ended neither way gives 1.
 */
export function getExitCode(code: number | null | undefined, signal: string | null | undefined): number {
  if (typeof code === 'number') return code;
  if (signal) {
    const n = (constants.signals as Record<string, number | undefined>)[signal];
    return n === undefined ? 128 : 128 + n;
  }
  return 1;
}

/** How long the output of a child that has exited is still read: a grandchild may hold the pipes for hours. */
const DRAIN_AFTER_EXIT_MS = 500;

export async function run(file: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  const what = label(file, args);
  // An fd, not execa's {file, append}: that one is relayed through this process, so a
  // child's output would stop reaching the log when we exit.
  const logFd = opts.logFile ? openSync(opts.logFile, 'a', 0o644) : undefined;
  let child;
  try {
    child = execa(file, args, {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      extendEnv: opts.env === undefined,
      stdin: 'ignore',
      // execa hands an fd number straight to spawn (checked); its types only name 3 to 9.
      stdout: (logFd as 3 | undefined) ?? 'pipe',
      stderr: (logFd as 3 | undefined) ?? 'pipe',
      detached: opts.group === true,
      reject: false,
      stripFinalNewline: false,
      encoding: 'utf8',
    });
  } finally {
    if (logFd !== undefined) closeSync(logFd);
  }
  const pid = child.pid;
  if (pid !== undefined) opts.onStart?.(pid);

  let timedOut = false;
  const timer =
    opts.timeoutMs === undefined
      ? undefined
      : setTimeout(() => {
          timedOut = true;
          // The whole group it started (npm and its scripts), or the child itself.
          killQuietly(opts.group && pid ? -pid : pid, 'SIGKILL');
        }, opts.timeoutMs);
  // execa settles once the pipes close. Past the child's own exit a grandchild that
  // still holds them is not waited for (after a timeout, not at all): the pipes are cut
  // and what was read stays.
  let drainTimer: NodeJS.Timeout | undefined;
  const drained = new Promise<null>((resolve) =>
    child.once('exit', () => {
      drainTimer = setTimeout(() => resolve(null), timedOut ? 0 : DRAIN_AFTER_EXIT_MS);
    }),
  );
  const first = await Promise.race([child, drained]);
  if (first === null) {
    child.stdout?.destroy();
    child.stderr?.destroy();
  }
  const r = await child;
  if (timer) clearTimeout(timer);
  if (drainTimer) clearTimeout(drainTimer);

  const stdout = typeof r.stdout === 'string' ? r.stdout : '';
  const stderr = typeof r.stderr === 'string' ? r.stderr : '';
  if (timedOut) {
    throw new OpsError(`${what} timed out after ${Math.round((opts.timeoutMs ?? 0) / 1000)} s.`);
  }
  if (r.exitCode === undefined && r.signal === undefined) {
    // It never ran. A missing working folder reads as ENOENT too: name the folder, not the program.
    if (r.code === 'ENOENT' && opts.cwd && !existsSync(opts.cwd)) {
      throw new OpsError(
        `${what} could not run: the folder ${opts.cwd} does not exist.`,
        'Check that the folder was not moved or deleted.',
      );
    }
    if (r.code === 'ENOENT') {
      throw new OpsError(`"${file}" was not found on PATH.`, `Install ${file.split('/').pop()} or put it on PATH.`);
    }
    const why = r.originalMessage ?? r.shortMessage;
    throw new OpsError(`${what} could not start: ${why}.`);
  }
  const exit = getExitCode(r.exitCode, r.signal);
  if (exit !== 0 && !opts.allowFail) {
    const tail = oneLine(lastLines(stderr || stdout, 3), 300);
    const how = r.signal ? `${exit} (${r.signal})` : String(exit);
    throw new OpsError(`${what} exited with ${how}${tail ? `: ${tail}` : '.'}`);
  }
  return { code: exit, stdout, stderr };
}

function lastLines(text: string, n: number): string {
  return text.trim().split(/\r?\n/).slice(-n).join(' ');
}

export interface DetachedOptions {
  cwd: string;
  env: NodeJS.ProcessEnv;
  logFile: string;
}

/**
 * Starts a daemon in its own process group with its output appended to logFile; returns its pid.
 * node:child_process, not execa: the daemon outlives us, so its log must be a file
 * descriptor it holds itself, which execa's types reject for a detached child (and its
 * `{file, append}` output is relayed through this process, so it would stop when we exit).
 */
export function spawnDetached(file: string, args: string[], opts: DetachedOptions): number {
  const fd = openSync(opts.logFile, 'a', 0o644);
  try {
    const child = spawn(file, args, { cwd: opts.cwd, env: opts.env, stdio: ['ignore', fd, fd], detached: true });
    if (child.pid === undefined) throw new OpsError(`${label(file, args)} could not start.`);
    child.unref();
    return child.pid;
  } finally {
    closeSync(fd);
  }
}

export interface Foreground {
  pid: number;
  exited: Promise<number>;
}

/**
 * Starts a child in our own process group (so launchd's kill of the job reaches it) with
 * stdout and stderr on the given fd. `exited` resolves with a shell-style exit code.
 * node:child_process for the same reason as spawnDetached: the output goes to an fd.
 */
export function spawnForeground(
  file: string,
  args: string[],
  opts: { cwd: string; env: NodeJS.ProcessEnv; fd: number },
): Foreground {
  const child = spawn(file, args, { cwd: opts.cwd, env: opts.env, stdio: ['ignore', opts.fd, opts.fd] });
  const exited = new Promise<number>((resolve) => {
    child.on('error', () => resolve(127));
    child.on('exit', (code, signal) => resolve(getExitCode(code, signal)));
  });
  return { pid: child.pid ?? -1, exited };
}

export function killQuietly(pid: number | undefined, signal: NodeJS.Signals = 'SIGTERM'): void {
  if (!pid) return;
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}

/** True when pid runs and is not a zombie (kill(pid, 0) alone counts zombies as alive). */
export function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  if (process.platform !== 'linux') return true;
  const state = readProcStat(pid);
  return state !== null && state.state !== 'Z';
}

const ownStart: { value?: Promise<string | null> } = {};

/**
 * When a process started, as an opaque token its platform gives the same way every time,
 * so a pid's first owner is told from a later one (pid reuse). Linux: /proc/<pid>/stat's
 * starttime (clock ticks after boot, read without a spawn); macOS: `ps -o lstart=`. null
 * when the process is gone or the OS would not say. Our own is asked once.
 */
export async function getProcessStart(pid: number): Promise<string | null> {
  if (pid === process.pid) return (ownStart.value ??= readProcessStart(pid));
  return readProcessStart(pid);
}

async function readProcessStart(pid: number): Promise<string | null> {
  if (!Number.isInteger(pid) || pid <= 0) return null;
  if (process.platform === 'linux') {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      // Field 22; the fields after comm's last ')' start at field 3.
      const start = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
      return /^\d+$/.test(start ?? '') ? start : null;
    } catch {
      return null;
    }
  }
  try {
    const r = await run('ps', ['-o', 'lstart=', '-p', String(pid)], {
      timeoutMs: 3000,
      allowFail: true,
      env: { ...process.env, LC_ALL: 'C' },
    });
    const start = r.stdout.trim();
    return r.code === 0 && start ? start : null;
  } catch {
    return null;
  }
}

function readProcStat(pid: number): { state: string; pgrp: number } | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // comm may hold spaces and parentheses; the fields after the last ')' are fixed.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { state: rest[0], pgrp: Number(rest[2]) };
  } catch {
    return null;
  }
}

/** True while any live (non-zombie) process remains in the process group. */
export function isGroupAlive(pgid: number): boolean {
  if (!Number.isInteger(pgid) || pgid <= 0) return false;
  try {
    process.kill(-pgid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  if (process.platform !== 'linux') return true;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = readProcStat(Number(entry));
    if (stat && stat.pgrp === pgid && stat.state !== 'Z') return true;
  }
  return false;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Ends a process group: SIGTERM, then SIGKILL after graceMs. Resolves once it is gone. */
export async function stopGroup(pgid: number, graceMs = 5000): Promise<void> {
  if (!isGroupAlive(pgid)) return;
  killQuietly(-pgid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    if (!isGroupAlive(pgid)) return;
    await sleep(50);
  }
  killQuietly(-pgid, 'SIGKILL');
  const hardDeadline = Date.now() + 2000;
  while (isGroupAlive(pgid) && Date.now() < hardDeadline) await sleep(50);
}
