/**
 * The one module that starts processes. Every other module asks this one, so that a
 * missing program, a timeout or a non-zero exit always comes back as one sentence.
 */
import { spawn, type StdioOptions } from 'node:child_process';
import { openSync, closeSync, readFileSync, readdirSync, existsSync } from 'node:fs';
import { OpsError, oneLine } from '../errors.js';

export interface RunOptions {
  cwd?: string;
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

export function run(file: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  const what = label(file, args);
  return new Promise((resolve, reject) => {
    let logFd: number | undefined;
    let stdio: StdioOptions = ['ignore', 'pipe', 'pipe'];
    if (opts.logFile) {
      logFd = openSync(opts.logFile, 'a', 0o644);
      stdio = ['ignore', logFd, logFd];
    }
    const child = spawn(file, args, {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      stdio,
      detached: opts.group === true,
    });
    if (logFd !== undefined) closeSync(logFd);
    if (child.pid !== undefined) opts.onStart?.(child.pid);
    let stdout = '';
    let stderr = '';
    child.stdout?.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    let timedOut = false;
    const timer =
      opts.timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            timedOut = true;
            killQuietly(opts.group && child.pid ? -child.pid : child.pid, 'SIGKILL');
          }, opts.timeoutMs);
    child.on('error', (err: NodeJS.ErrnoException) => {
      if (timer) clearTimeout(timer);
      if (err.code === 'ENOENT' && opts.cwd && !existsSync(opts.cwd)) {
        // spawn says ENOENT for a missing working folder too; name the folder, not the program.
        reject(
          new OpsError(
            `${what} could not run: the folder ${opts.cwd} does not exist.`,
            'Check that the folder was not moved or deleted.',
          ),
        );
      } else if (err.code === 'ENOENT') {
        reject(new OpsError(`"${file}" was not found on PATH.`, `Install ${file.split('/').pop()} or put it on PATH.`));
      } else {
        reject(new OpsError(`${what} could not start: ${err.message}.`));
      }
    });
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      if (timedOut) {
        reject(new OpsError(`${what} timed out after ${Math.round((opts.timeoutMs ?? 0) / 1000)} s.`));
        return;
      }
      const exit = code ?? (signal ? 128 : 1);
      if (exit !== 0 && !opts.allowFail) {
        const tail = oneLine(lastLines(stderr || stdout, 3), 300);
        reject(new OpsError(`${what} exited with ${signal ?? exit}${tail ? `: ${tail}` : '.'}`));
        return;
      }
      resolve({ code: exit, stdout, stderr });
    });
  });
}

function lastLines(text: string, n: number): string {
  return text.trim().split(/\r?\n/).slice(-n).join(' ');
}

export interface DetachedOptions {
  cwd: string;
  env: NodeJS.ProcessEnv;
  logFile: string;
}

/** Starts a daemon in its own process group with its output appended to logFile; returns its pid. */
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
 */
export function spawnForeground(
  file: string,
  args: string[],
  opts: { cwd: string; env: NodeJS.ProcessEnv; fd: number },
): Foreground {
  const child = spawn(file, args, { cwd: opts.cwd, env: opts.env, stdio: ['ignore', opts.fd, opts.fd] });
  const exited = new Promise<number>((resolve) => {
    child.on('error', () => resolve(127));
    child.on('exit', (code, signal) => resolve(code ?? 128 + signalNumber(signal)));
  });
  return { pid: child.pid ?? -1, exited };
}

function signalNumber(signal: NodeJS.Signals | null): number {
  return signal === 'SIGKILL' ? 9 : signal === 'SIGINT' ? 2 : 15;
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
