/**
 * The tests' own processes, ports and HTTP, written against node:child_process, node:net and
 * node:http directly. Helpers never borrow src/os for this: a bug there must fail a test,
 * not the fixture that is supposed to catch it.
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, readdirSync } from 'node:fs';
import { request } from 'node:http';
import { createServer, type AddressInfo } from 'node:net';

export interface ProcResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface ProcOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** SIGKILL the child (and reject) after this long. */
  timeoutMs?: number;
  /** Resolve with a non-zero exit code instead of rejecting. */
  allowFail?: boolean;
}

/** Runs a program to its end and captures its output; a non-zero exit rejects unless allowFail. */
export function run(file: string, args: string[], opts: ProcOptions = {}): Promise<ProcResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(file, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    let timedOut = false;
    const timer =
      opts.timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            timedOut = true;
            child.kill('SIGKILL');
          }, opts.timeoutMs);
    child.on('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      // spawn says ENOENT for a missing working folder too: name the folder then.
      const why = err.code === 'ENOENT' && opts.cwd && !existsSync(opts.cwd) ? `no folder ${opts.cwd}` : err.message;
      reject(new Error(`${file} ${args.join(' ')}: ${why}`));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const exit = code ?? 128 + signalNumber(signal);
      const what = `${file} ${args.join(' ')}`;
      if (timedOut) reject(new Error(`${what}: timed out after ${opts.timeoutMs} ms\n${stderr}`));
      else if (exit !== 0 && !opts.allowFail) reject(new Error(`${what}: exited with ${exit}\n${stderr || stdout}`));
      else resolvePromise({ code: exit, stdout, stderr });
    });
  });
}

function signalNumber(signal: NodeJS.Signals | null): number {
  const numbers: Partial<Record<NodeJS.Signals, number>> = { SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGTERM: 15 };
  return (signal && numbers[signal]) ?? 0;
}

/** Starts a daemon in its own process group, output appended to logFile; returns its pid (= its group). */
export function spawnDetached(
  file: string,
  args: string[],
  opts: { cwd: string; env: NodeJS.ProcessEnv; logFile: string },
): number {
  const fd = openSync(opts.logFile, 'a');
  try {
    const child = spawn(file, args, { cwd: opts.cwd, env: opts.env, stdio: ['ignore', fd, fd], detached: true });
    if (child.pid === undefined) throw new Error(`${file} could not start`);
    child.unref();
    return child.pid;
  } finally {
    closeSync(fd);
  }
}

export function killQuietly(pid: number | undefined, signal: NodeJS.Signals = 'SIGTERM'): void {
  if (!pid) return;
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}

/** /proc/<pid>/stat's state and process group, or null when the process is gone. */
function procStat(pid: number): { state: string; pgrp: number } | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { state: rest[0], pgrp: Number(rest[2]) };
  } catch {
    return null;
  }
}

/** True while pid runs; a zombie counts as gone. */
export function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  if (process.platform !== 'linux') return true;
  const stat = procStat(pid);
  return stat !== null && stat.state !== 'Z';
}

/** True while any live (non-zombie) process is in the group. */
export function isGroupAlive(pgid: number): boolean {
  if (!Number.isInteger(pgid) || pgid <= 0) return false;
  try {
    process.kill(-pgid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  if (process.platform !== 'linux') return true;
  return readdirSync('/proc').some((e) => {
    if (!/^\d+$/.test(e)) return false;
    const stat = procStat(Number(e));
    return stat !== null && stat.pgrp === pgid && stat.state !== 'Z';
  });
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** SIGTERM to the group, SIGKILL after graceMs; resolves once nothing of it is left (or 2 s more). */
export async function stopGroup(pgid: number, graceMs = 5000): Promise<void> {
  if (!isGroupAlive(pgid)) return;
  killQuietly(-pgid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    if (!isGroupAlive(pgid)) return;
    await sleep(50);
  }
  killQuietly(-pgid, 'SIGKILL');
  const hard = Date.now() + 2000;
  while (isGroupAlive(pgid) && Date.now() < hard) await sleep(50);
}

/** A port nothing listened on a moment ago (the kernel's choice, never a fixed number). */
export function getFreePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolvePromise, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen({ host, port: 0, exclusive: true }, () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolvePromise(port));
    });
  });
}

/** One GET; status null (and body '') when nothing answers within timeoutMs. */
export function httpGet(
  host: string,
  port: number,
  path = '/',
  timeoutMs = 5000,
): Promise<{ status: number | null; body: string }> {
  return new Promise((resolvePromise) => {
    const req = request({ host, port, path, agent: false, signal: AbortSignal.timeout(timeoutMs) }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d));
      res.on('end', () => resolvePromise({ status: res.statusCode ?? null, body }));
      res.on('error', () => resolvePromise({ status: res.statusCode ?? null, body }));
    });
    req.on('error', () => resolvePromise({ status: null, body: '' }));
    req.end();
  });
}
