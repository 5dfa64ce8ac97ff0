/**
 * The tests' side of the launchctl stand-in (test/helpers/bin/launchctl): put it first on
 * PATH, read the calls it recorded and the jobs it runs, and stop everything it started.
 */
import { mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { run, stopGroup, isAlive } from './proc.js';
import { ROOT } from './fixture.js';

export const STANDIN_BIN = join(ROOT, 'test', 'helpers', 'bin');
export const UID = process.getuid?.() ?? 0;

export interface Call {
  at: string;
  pid: number;
  args: string[];
  code: number;
  stderr?: string;
  /** The call was answered by an injected fault. */
  injected?: true;
}

/**
 * A failure the stand-in answers with (see test/helpers/bin/launchctl): launchctl's real
 * code and words, for calls of `command` (any when left out) in `domain` (any when left out),
 * `times` times (every call when left out).
 */
export interface Fault {
  code: 5 | 37 | 113 | 125;
  command?: 'bootstrap' | 'bootout' | 'enable' | 'kickstart' | 'print';
  domain?: 'gui' | 'user';
  times?: number;
}

/** Makes the stand-in under this HOME answer with these faults (replacing any before). */
export function setFaults(home: string, faults: Fault[]): void {
  const dir = standinDir(home);
  mkdirSync(join(dir, 'jobs'), { recursive: true });
  const file = join(dir, 'faults.json');
  writeFileSync(`${file}.tmp`, JSON.stringify(faults, null, 2) + '\n');
  renameSync(`${file}.tmp`, file);
}

/** The faults not yet used up. */
export function readFaults(home: string): Fault[] {
  try {
    return (JSON.parse(readFileSync(join(standinDir(home), 'faults.json'), 'utf8')) as Fault[]).filter(
      (f) => f.times === undefined || f.times > 0,
    );
  } catch {
    return [];
  }
}

/**
 * What the CLI needs to find the stand-in: PATH with its folder first. And this test
 * process as the owner of what it loads: should the run be killed before its cleanup,
 * the stand-in's supervisors stop their jobs and end on their own.
 */
export function standinEnv(): NodeJS.ProcessEnv {
  return { PATH: `${STANDIN_BIN}:${process.env.PATH ?? ''}`, LAUNCHCTL_STANDIN_OWNER: String(process.pid) };
}

export function standinDir(home: string): string {
  return join(home, '.launchctl-standin');
}

export function readCalls(home: string): Call[] {
  try {
    return readFileSync(join(standinDir(home), 'calls.jsonl'), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Call);
  } catch {
    return [];
  }
}

/** The calls that change launchd's state (print is only a question). */
export function changingCalls(calls: Call[]): string[] {
  return calls.filter((c) => c.args[0] !== 'print').map((c) => c.args.join(' '));
}

interface RunState {
  supervisor: number;
  pid: number | null;
  state: string;
  runs: number;
  lastExit: number | null;
}

export function readRunState(home: string, label: string): RunState | null {
  try {
    return JSON.parse(readFileSync(join(standinDir(home), 'jobs', `${label}.run.json`), 'utf8')) as RunState;
  } catch {
    return null;
  }
}

/** The stand-in itself, called the way our tool calls it. */
export async function launchctl(
  home: string,
  args: string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
  return run(join(STANDIN_BIN, 'launchctl'), args, {
    env: { ...process.env, HOME: home, ...standinEnv() },
    allowFail: true,
    timeoutMs: 60_000,
  });
}

/**
 * Stops every supervisor the stand-in started under this HOME (each stops its job first),
 * then any job left. By pid, so it works even when a test failed half-way.
 */
export async function stopStandin(home: string): Promise<void> {
  const dir = join(standinDir(home), 'jobs');
  let names: string[];
  try {
    names = readdirSync(dir).filter((n) => n.endsWith('.run.json'));
  } catch {
    return;
  }
  const states = names
    .map((n) => readRunState(home, n.slice(0, -'.run.json'.length)))
    .filter((s): s is RunState => s !== null);
  for (const s of states) if (isAlive(s.supervisor)) await stopGroup(s.supervisor, 25_000);
  for (const s of states) if (s.pid !== null) await stopGroup(s.pid, 2000);
}
