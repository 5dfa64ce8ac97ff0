/**
 * Resident children: the slots' dev servers. Started through execa in a process group of
 * their own (so a stop reaches npm, its shell and the server behind it), with their output
 * handed over line by line for the server log and the status page's tail.
 */
import { execa } from 'execa';
import { createInterface } from 'node:readline';
import { stopGroup } from './exec.js';

export interface ChildExit {
  code: number | null;
  signal: string | null;
}

export interface Child {
  pid: number;
  exited: Promise<ChildExit>;
  /** SIGTERM to the whole group, SIGKILL after graceMs; resolves once the group is gone. */
  stop(graceMs?: number): Promise<void>;
}

export interface ChildOptions {
  cwd: string;
  env: Record<string, string>;
  onLine: (line: string) => void;
}

export function startChild(file: string, args: string[], opts: ChildOptions): Child {
  const sub = execa(file, args, {
    cwd: opts.cwd,
    env: opts.env,
    extendEnv: false,
    detached: true,
    stdin: 'ignore',
    stdout: 'pipe',
    stderr: 'pipe',
    buffer: false,
    reject: false,
    // The agent stops its servers itself, group by group; execa's exit hook would signal
    // only the leader and leave npm's children holding ports.
    cleanup: false,
  });
  for (const stream of [sub.stdout, sub.stderr]) {
    if (stream) createInterface({ input: stream, crlfDelay: Infinity }).on('line', opts.onLine);
  }
  const exited: Promise<ChildExit> = sub.then(
    (r) => ({ code: r.exitCode ?? null, signal: r.signal ?? null }),
    (err: { exitCode?: number; signal?: string }) => ({ code: err.exitCode ?? null, signal: err.signal ?? null }),
  );
  const pid = sub.pid ?? -1;
  return {
    pid,
    exited,
    async stop(graceMs = 5000) {
      await stopGroup(pid, graceMs);
    },
  };
}
