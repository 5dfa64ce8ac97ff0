/**
 * A real systemd user manager per test (DESIGN §8): `systemd --user` with its own HOME and
 * XDG_RUNTIME_DIR inside the test's temp dir, ended after, pass or fail, together with
 * every process it started (by pid). Spawns with node:child_process itself, so the code
 * under test (src/os/exec.ts) is never what runs the fixture.
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';

/** DESIGN §8's sentence: a test that cannot start a user manager fails with it. */
export const NO_USER_MANAGER =
  'A user manager starts only when /run/systemd/system exists; .ci/run creates it when it runs as root and it is missing.';

export interface Spawned {
  code: number;
  stdout: string;
  stderr: string;
}

/** A small spawn: resolves with the exit code and output, kills the child after timeoutMs. */
export function spawnCollect(
  file: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  timeoutMs = 60_000,
): Promise<Spawned> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr });
    });
  });
}

/** True when pid runs and is no zombie. */
export function isLive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

function getParent(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return null;
  }
}

/** Every live process below pid (children, grandchildren…). */
export function getDescendants(pid: number): number[] {
  const parents = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const parent = getParent(Number(entry));
    if (parent !== null) parents.set(Number(entry), parent);
  }
  const out: number[] = [];
  const walk = (p: number) => {
    for (const [child, parent] of parents) {
      if (parent === p && !out.includes(child)) {
        out.push(child);
        walk(child);
      }
    }
  };
  walk(pid);
  return out;
}

/** Processes whose working folder is inside dir: a job the manager left behind. */
function getProcessesUnder(dir: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const cwd = readlinkSync(`/proc/${entry}/cwd`);
      if (cwd === dir || cwd.startsWith(dir + '/')) pids.push(Number(entry));
    } catch {
      // gone, or not ours
    }
  }
  return pids;
}

function kill(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}

async function waitUntil(fn: () => boolean | Promise<boolean>, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await fn()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return fn();
}

export interface UserManager {
  pid: number;
  home: string;
  runtimeDir: string;
  /** HOME and XDG_RUNTIME_DIR of this manager, over the test's own environment. */
  env: NodeJS.ProcessEnv;
  systemctl(args: string[]): Promise<Spawned>;
  /** `systemctl --user show -p …` as a map. */
  show(unit: string, properties: string[]): Promise<Record<string, string>>;
  /** Points process.env at this manager (for code under test); returns the undo. */
  useEnv(): () => void;
  /** Ends the manager, its jobs (by pid) and anything left running under `owned`. */
  stop(): Promise<void>;
}

const live = new Set<UserManager>();

/**
 * Starts `systemd --user` with HOME=home and XDG_RUNTIME_DIR=runtimeDir, and waits until
 * `systemctl --user is-system-running` answers running or degraded. `owned` is the temp
 * dir whose stray processes stop() ends as well. Throws NO_USER_MANAGER's sentence when no
 * manager comes up: the test fails, never skips.
 */
export async function startUserManager(opts: {
  home: string;
  runtimeDir: string;
  owned: string;
}): Promise<UserManager> {
  if (!existsSync('/run/systemd/system')) {
    throw new Error(`Cannot start a systemd user manager: /run/systemd/system is missing. ${NO_USER_MANAGER}`);
  }
  mkdirSync(opts.home, { recursive: true });
  mkdirSync(opts.runtimeDir, { recursive: true, mode: 0o700 });
  const env: NodeJS.ProcessEnv = { ...process.env, HOME: opts.home, XDG_RUNTIME_DIR: opts.runtimeDir };
  delete env.XDG_CONFIG_HOME;
  delete env.DBUS_SESSION_BUS_ADDRESS;
  const logPath = join(opts.owned, 'systemd-user.log');
  const fd = openSync(logPath, 'a');
  let exited = false;
  let pid: number;
  try {
    const child = spawn('systemd', ['--user'], { env, cwd: opts.home, stdio: ['ignore', fd, fd], detached: true });
    child.on('exit', () => (exited = true));
    child.on('error', () => (exited = true));
    child.unref();
    if (child.pid === undefined) throw new Error('systemd --user did not start');
    pid = child.pid;
  } finally {
    closeSync(fd);
  }
  const systemctl = (args: string[]) => spawnCollect('systemctl', ['--user', ...args], env);
  const manager: UserManager = {
    pid,
    home: opts.home,
    runtimeDir: opts.runtimeDir,
    env,
    systemctl,
    async show(unit, properties) {
      const r = await systemctl(['show', '-p', properties.join(','), unit]);
      if (r.code !== 0) throw new Error(`systemctl --user show ${unit} failed: ${r.stderr.trim()}`);
      return Object.fromEntries(
        r.stdout
          .split('\n')
          .filter((l) => l.includes('='))
          .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
      );
    },
    useEnv() {
      const saved = { HOME: process.env.HOME, XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR };
      const savedXdg = process.env.XDG_CONFIG_HOME;
      const savedBus = process.env.DBUS_SESSION_BUS_ADDRESS;
      process.env.HOME = opts.home;
      process.env.XDG_RUNTIME_DIR = opts.runtimeDir;
      delete process.env.XDG_CONFIG_HOME;
      delete process.env.DBUS_SESSION_BUS_ADDRESS;
      return () => {
        for (const [k, v] of Object.entries({
          ...saved,
          XDG_CONFIG_HOME: savedXdg,
          DBUS_SESSION_BUS_ADDRESS: savedBus,
        })) {
          if (v === undefined) delete process.env[k];
          else process.env[k] = v;
        }
      };
    },
    async stop() {
      const jobs = getDescendants(pid);
      // SIGTERM: the manager stops its units (KillMode and all) and exits.
      kill(pid, 'SIGTERM');
      if (!(await waitUntil(() => !isLive(pid), 15_000))) kill(pid, 'SIGKILL');
      await waitUntil(() => !isLive(pid), 5000);
      for (const p of [...jobs, ...getProcessesUnder(opts.owned)]) kill(p, 'SIGKILL');
      await waitUntil(() => jobs.every((p) => !isLive(p)), 5000);
      live.delete(manager);
    },
  };
  live.add(manager);
  const up = await waitUntil(async () => {
    if (exited) return true;
    const r = await systemctl(['is-system-running']);
    return ['running', 'degraded'].includes(r.stdout.trim());
  }, 15_000);
  if (exited || !up) {
    await manager.stop();
    let log = '';
    try {
      log = readFileSync(logPath, 'utf8').trim().split('\n').slice(-5).join(' | ');
    } catch {
      // no log
    }
    throw new Error(
      `Cannot start a systemd user manager (${exited ? 'it exited' : 'it did not answer in 15 s'}${log ? `: ${log}` : ''}). ${NO_USER_MANAGER}`,
    );
  }
  return manager;
}

/** A safety net for a test that timed out: its finally may never run before uvu exits. */
process.on('exit', () => {
  for (const m of live) {
    for (const p of getDescendants(m.pid)) kill(p, 'SIGKILL');
    kill(m.pid, 'SIGKILL');
  }
});
