/**
 * Real repos for real tests (DESIGN §8): a bare "forge", the user's canonical clone, and
 * an upstream clone that pushes "merged pull requests" to main. Plus a HOME and a tool
 * home of their own, a free loopback port, and the CLI run as a real child process.
 */
import {
  mkdtempSync,
  mkdirSync,
  writeFileSync,
  rmSync,
  readdirSync,
  readlinkSync,
  existsSync,
  readFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname, resolve } from 'node:path';
import { run, stopGroup, killQuietly, isAlive, spawnDetached, getFreePort, httpGet } from './proc.js';
import { parseSyncRecord, type SyncRecord } from '../../src/site/last-sync.js';
import { siteFiles } from './site.js';

export const ROOT = resolve(dirname(new URL(import.meta.url).pathname), '..', '..');
export const BIN = join(ROOT, 'bin', 'localhost-ops.js');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

const GIT_ID = {
  GIT_AUTHOR_NAME: 'Test',
  GIT_AUTHOR_EMAIL: 't@example.com',
  GIT_COMMITTER_NAME: 'Test',
  GIT_COMMITTER_EMAIL: 't@example.com',
};

export async function sh(
  cwd: string,
  file: string,
  args: string[],
  env: NodeJS.ProcessEnv = process.env,
): Promise<string> {
  return (await run(file, args, { cwd, env: { ...env, ...GIT_ID }, timeoutMs: 120_000 })).stdout.trim();
}

let lockfileCache: string | null = null;

/** package-lock.json for the tiny site, made once per test process by real npm. */
async function getLockfile(dir: string): Promise<string> {
  if (lockfileCache) return lockfileCache;
  await run('npm', ['install', '--package-lock-only', '--offline', '--no-audit', '--no-fund'], {
    cwd: dir,
    timeoutMs: 120_000,
  });
  lockfileCache = readFileSync(join(dir, 'package-lock.json'), 'utf8');
  return lockfileCache;
}

export class Fixture {
  readonly home: string;
  readonly opsHome: string;
  readonly forge: string;
  readonly canonical: string;
  readonly upstream: string;
  port = 0;
  env: NodeJS.ProcessEnv;

  constructor(readonly root: string) {
    this.home = join(root, 'home');
    this.opsHome = join(root, 'home', 'ops-local');
    this.forge = join(root, 'forge.git');
    this.canonical = join(root, 'home', 'dev', 'site');
    this.upstream = join(root, 'upstream');
    this.env = {
      ...process.env,
      HOME: this.home,
      LOCALHOST_OPS_HOME: this.opsHome,
      NO_COLOR: '1',
      // Node search must not wander into the real HOME's version managers.
      NVM_DIR: join(this.home, '.nvm'),
    };
    // What the tool reads from its environment is set by a test when it means to, never
    // inherited: the suite behaves the same under a CI runner (which sets CI, and with it no
    // spinner) as on a developer's machine that exports LOCALHOST_OPS_NODE.
    for (const key of [
      'NODE_EXTRA_CA_CERTS',
      'FORCE_COLOR',
      'CI',
      'LOCALHOST_OPS_NODE',
      'LOCALHOST_OPS_METRICS_DIR',
      'LOCALHOST_OPS_DEBUG',
      'XDG_CONFIG_HOME',
    ]) {
      delete this.env[key];
    }
  }

  get worktree(): string {
    return join(this.opsHome, 'site', 'localhost-worktree');
  }

  siteDir(name = 'site'): string {
    return join(this.opsHome, name);
  }

  async cli(args: string[], extraEnv: NodeJS.ProcessEnv = {}, timeoutMs = 180_000): Promise<CliResult> {
    const r = await run(process.execPath, [BIN, ...args], {
      cwd: this.root,
      env: { ...this.env, ...extraEnv },
      allowFail: true,
      timeoutMs,
    });
    return { code: r.code, stdout: r.stdout, stderr: r.stderr };
  }

  /** install flags for this fixture; `over` replaces defaults ({'health-timeout': '5'}) or adds flags. */
  installArgs(over: Record<string, string | true> = {}): string[] {
    const flags: Record<string, string | true> = {
      repo: this.canonical,
      port: String(this.port),
      interval: '3600',
      'health-timeout': '20',
      ...over,
    };
    return ['install', ...Object.entries(flags).flatMap(([k, v]) => (v === true ? [`--${k}`] : [`--${k}`, v]))];
  }

  /** Commits files (null deletes) in upstream and pushes to the forge's main; returns the sha. */
  async push(files: Record<string, string | null>, message = 'merge pull request'): Promise<string> {
    for (const [path, content] of Object.entries(files)) {
      const full = join(this.upstream, path);
      if (content === null) rmSync(full, { force: true });
      else {
        mkdirSync(dirname(full), { recursive: true });
        writeFileSync(full, content);
      }
    }
    await sh(this.upstream, 'git', ['add', '-A']);
    await sh(this.upstream, 'git', ['commit', '-q', '-m', message]);
    await sh(this.upstream, 'git', ['push', '-q', 'origin', 'HEAD:main']);
    return sh(this.upstream, 'git', ['rev-parse', 'HEAD']);
  }

  async get(path = '/'): Promise<{ status: number | null; body: string }> {
    return httpGet('127.0.0.1', this.port, path, 5000);
  }

  async isUp(): Promise<boolean> {
    return (await httpGet('127.0.0.1', this.port, '/', 2000)).status !== null;
  }

  record(name = 'site'): SyncRecord | null {
    try {
      return parseSyncRecord(readFileSync(join(this.siteDir(name), 'last-sync.env'), 'utf8'));
    } catch {
      return null;
    }
  }

  readLog(name = 'site', file = 'sync.log'): string {
    try {
      return readFileSync(join(this.siteDir(name), 'logs', file), 'utf8');
    } catch {
      return '';
    }
  }

  /** The process backend's server job (the `run` process, leader of its group). */
  serverPid(name = 'site'): number {
    return Number(readFileSync(join(this.siteDir(name), 'run', 'server.pid'), 'utf8'));
  }

  /** kill -9 of the server job's whole group: run, npm, sh and the dev server. */
  async killServer(): Promise<void> {
    const pid = this.serverPid();
    killQuietly(-pid, 'SIGKILL');
    await waitFor(async () => !isAlive(pid) && !(await this.isUp()), 10_000, 'the server to be gone');
  }

  /** A dev server started by hand in another folder (inside the fixture, so cleanup ends it). */
  async startStrayServer(): Promise<{ pid: number; dir: string; stop: () => Promise<void> }> {
    const dir = join(this.root, 'elsewhere');
    mkdirSync(dir, { recursive: true });
    const script = `require('node:http').createServer((q, s) => s.end('stale content\\n')).listen(${this.port}, '127.0.0.1')`;
    const pid = spawnDetached(process.execPath, ['-e', script], {
      cwd: dir,
      env: this.env,
      logFile: join(this.root, 'stray.log'),
    });
    await waitFor(() => this.isUp(), 10_000, 'the stray server to answer');
    return {
      pid,
      dir,
      stop: async () => {
        await stopGroup(pid, 2000);
        await waitFor(async () => !(await this.isUp()), 10_000, 'the stray server to be gone');
      },
    };
  }

  /** How many syncs have finished (one `done:` line each in sync.log). */
  countSyncs(name = 'site'): number {
    return (this.readLog(name).match(/\] done: /g) ?? []).length;
  }

  /** Waits until n syncs have finished: install's, then the sync job's first run at load. */
  async waitForSyncs(n: number, name = 'site', ms = 60_000): Promise<void> {
    await waitFor(() => this.countSyncs(name) >= n, ms, `${n} finished syncs`);
  }

  /** Ends every process that runs from inside this fixture, then removes it. */
  async cleanup(): Promise<void> {
    for (const pid of findProcessesUnder(this.root)) {
      await stopGroup(pid, 2000);
      killQuietly(pid, 'SIGKILL');
    }
    rmSync(this.root, { recursive: true, force: true });
    liveRoots.delete(this.root);
  }
}

/** Processes whose cwd is inside dir: the jobs, the servers, any stray npm. */
export function findProcessesUnder(dir: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const cwd = readlinkSync(`/proc/${entry}/cwd`);
      if ((cwd === dir || cwd.startsWith(dir + '/')) && isAlive(Number(entry))) pids.push(Number(entry));
    } catch {
      // gone or not ours
    }
  }
  return pids;
}

/**
 * A safety net for a test that timed out: its `finally` may still be pending when uvu
 * ends the process, so at exit every process left under a fixture is killed, by pid.
 */
const liveRoots = new Set<string>();
process.on('exit', () => {
  for (const root of liveRoots) {
    for (const pid of findProcessesUnder(root)) {
      killQuietly(-pid, 'SIGKILL');
      killQuietly(pid, 'SIGKILL');
    }
    rmSync(root, { recursive: true, force: true });
  }
});

export async function createFixture(content = 'hello from main'): Promise<Fixture> {
  const root = mkdtempSync(join(tmpdir(), 'lops-'));
  liveRoots.add(root);
  const fx = new Fixture(root);
  mkdirSync(fx.home, { recursive: true });
  fx.port = await getFreePort();
  await sh(root, 'git', ['init', '-q', '--bare', '-b', 'main', fx.forge]);
  await sh(root, 'git', ['clone', '-q', fx.forge, fx.upstream]);
  await sh(fx.upstream, 'git', ['checkout', '-q', '-b', 'main']);
  for (const [path, text] of Object.entries(siteFiles(content))) {
    mkdirSync(dirname(join(fx.upstream, path)), { recursive: true });
    writeFileSync(join(fx.upstream, path), text);
  }
  writeFileSync(join(fx.upstream, 'package-lock.json'), await getLockfile(fx.upstream));
  await sh(fx.upstream, 'git', ['add', '-A']);
  await sh(fx.upstream, 'git', ['commit', '-q', '-m', 'initial site']);
  await sh(fx.upstream, 'git', ['push', '-q', '-u', 'origin', 'main']);
  mkdirSync(dirname(fx.canonical), { recursive: true });
  await sh(root, 'git', ['clone', '-q', fx.forge, fx.canonical]);
  return fx;
}

/** uvu has no timeouts: every test body goes through this, so a hang fails instead of stalling CI. */
export function withTimeout<T>(ms: number, fn: () => Promise<T>): () => Promise<T> {
  return () =>
    new Promise<T>((resolvePromise, reject) => {
      const timer = setTimeout(() => reject(new Error(`test timed out after ${ms} ms`)), ms);
      fn().then(
        (v) => {
          clearTimeout(timer);
          resolvePromise(v);
        },
        (e) => {
          clearTimeout(timer);
          reject(e);
        },
      );
    });
}

/** Polls until fn returns true or the time is up. */
export async function waitFor(fn: () => Promise<boolean> | boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await fn()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out after ${ms} ms waiting for ${what}`);
}

export { existsSync };
