/**
 * Talking to the user's systemd: `systemctl --user` and `loginctl`, and their failures
 * decoded into one sentence with a fix. Only machine-readable answers are read
 * (`show -p`, `is-system-running`'s one word, `show-user -p Linger`), never human text.
 * Kept light (no unit rendering) so install's probe loads nothing else.
 */
import { userInfo } from 'node:os';
import { OpsError, oneLine } from '../../errors.js';
import { run, type RunResult } from '../../os/exec.js';
import { findOnPath } from '../../os/fs.js';

/** A stop waits for TimeoutStopSec (20 s) and then some. */
const SYSTEMCTL_TIMEOUT_MS = 60_000;
const PROBE_TIMEOUT_MS = 5000;

/** What systemctl and sd-bus print when no user manager answers on XDG_RUNTIME_DIR. */
const NO_MANAGER =
  /Failed to connect to (the )?bus|No medium found|XDG_RUNTIME_DIR|DBUS_SESSION_BUS_ADDRESS|Failed to get D-Bus connection|Transport endpoint is not connected/i;

export function getUserName(): string {
  try {
    return userInfo().username;
  } catch {
    return process.env.USER || process.env.LOGNAME || String(process.getuid?.() ?? '');
  }
}

/** Pure: the fix for "no user manager answers", naming XDG_RUNTIME_DIR and the session. */
export function getNoManagerFix(
  runtimeDir = process.env.XDG_RUNTIME_DIR,
  user = getUserName(),
  uid = process.getuid?.(),
): string {
  const where = uid === undefined ? '/run/user/<uid>' : `/run/user/${uid}`;
  const now = runtimeDir
    ? `XDG_RUNTIME_DIR is ${runtimeDir}, where no user manager listens`
    : 'XDG_RUNTIME_DIR is not set';
  return (
    `${now}: run this from a login session of ${user} (one sets XDG_RUNTIME_DIR=${where}), ` +
    `or run loginctl enable-linger ${user} so the user manager runs without a session, then export XDG_RUNTIME_DIR=${where}.`
  );
}

/** True when systemctl's words say that no user manager answered. */
export function isNoManager(text: string): boolean {
  return NO_MANAGER.test(text);
}

function getSystemctl(): string {
  // /usr/bin/systemctl, should a job's PATH ever lack it.
  const found = findOnPath('systemctl') ?? findOnPath('systemctl', '/usr/bin:/bin');
  if (!found) {
    throw new OpsError(
      'systemctl is not on PATH, so the systemd jobs cannot be managed.',
      'Run this on a Linux with systemd, or reinstall with --service process.',
    );
  }
  return found;
}

export function systemctl(args: string[], timeoutMs = SYSTEMCTL_TIMEOUT_MS): Promise<RunResult> {
  return run(getSystemctl(), ['--user', ...args], { allowFail: true, timeoutMs });
}

/** A failed systemctl call as one sentence: no user manager is its own, with its fix. */
export function describeFailure(args: string[], r: RunResult): OpsError {
  const said = oneLine(r.stderr || r.stdout, 300);
  if (isNoManager(said)) {
    return new OpsError(
      `systemctl --user cannot reach your systemd user manager (${said.replace(/\.$/, '')}), so the jobs cannot be managed.`,
      `${getNoManagerFix()} Or reinstall with --service process.`,
    );
  }
  return new OpsError(
    `systemctl --user ${args.join(' ')} failed with exit ${r.code}${said ? `: ${said}` : '.'}`,
    "See the systemd-*.log files in the site's logs folder, and systemctl --user status for the unit.",
  );
}

export async function mustSystemctl(args: string[]): Promise<RunResult> {
  const r = await systemctl(args);
  if (r.code !== 0) throw describeFailure(args, r);
  return r;
}

export interface SystemdProbe {
  /** A user manager answered `running` or `degraded`. */
  available: boolean;
  /** Its answer (running, degraded, starting…), or null when none came. */
  state: string | null;
  /** Why it is not available, as the end of a sentence ("" when it is). */
  problem: string;
  /** What to do about it ("" when available). */
  fix: string;
}

/** Pure: `is-system-running`'s answer into a probe. */
export function readProbe(r: RunResult | null): SystemdProbe {
  if (r === null) {
    return {
      available: false,
      state: null,
      problem: 'systemctl is not on PATH',
      fix: 'Run this on a Linux with systemd.',
    };
  }
  const state = r.stdout.trim().split('\n')[0]?.trim() || null;
  if (state === 'running' || state === 'degraded') return { available: true, state, problem: '', fix: '' };
  const said = oneLine(r.stderr, 200).replace(/\.$/, '');
  if (state === null || isNoManager(said)) {
    return {
      available: false,
      state: null,
      problem: `no user manager answers systemctl --user${said ? ` (${said})` : ''}`,
      fix: getNoManagerFix(),
    };
  }
  return {
    available: false,
    state,
    problem: `the user manager says it is ${state}`,
    fix: 'Wait until systemctl --user is-system-running answers running, then try again.',
  };
}

/**
 * install's probe (DESIGN §4): does a systemd user manager answer, `running` or
 * `degraded`? Never throws; off Linux, or without systemctl, the answer is no.
 */
export async function probeSystemdUser(platform = process.platform): Promise<SystemdProbe> {
  if (platform !== 'linux') {
    return { available: false, state: null, problem: 'systemd runs only on Linux', fix: 'Pass --service auto.' };
  }
  let systemctlPath: string;
  try {
    systemctlPath = getSystemctl();
  } catch {
    return readProbe(null);
  }
  try {
    return readProbe(
      await run(systemctlPath, ['--user', 'is-system-running'], { allowFail: true, timeoutMs: PROBE_TIMEOUT_MS }),
    );
  } catch (err) {
    return { available: false, state: null, problem: oneLine((err as Error).message, 200), fix: getNoManagerFix() };
  }
}

export async function isSystemdUserAvailable(): Promise<boolean> {
  return (await probeSystemdUser()).available;
}

export interface Lingering {
  user: string;
  /** null: loginctl could not answer (no logind, not on PATH). */
  enabled: boolean | null;
  /** Why it is unknown ("" when known). */
  reason: string;
}

/** Pure: `loginctl show-user <user> -p Linger` into an answer. */
export function readLingering(user: string, r: RunResult | null): Lingering {
  if (r === null) return { user, enabled: null, reason: 'loginctl is not on PATH' };
  const m = /^Linger=(yes|no)$/m.exec(r.stdout);
  if (r.code === 0 && m) return { user, enabled: m[1] === 'yes', reason: '' };
  // logind knows only users with a session or lingering: without a session, that is "no".
  if (/not logged in or lingering/i.test(r.stderr)) return { user, enabled: false, reason: '' };
  const said = oneLine(r.stderr || r.stdout, 200).replace(/\.$/, '');
  return { user, enabled: null, reason: `loginctl could not answer${said ? ` (${said})` : ''}` };
}

/** Whether the user's jobs run without a login session (DESIGN §4); never throws. */
export async function getLingering(user = getUserName()): Promise<Lingering> {
  const loginctl = findOnPath('loginctl') ?? findOnPath('loginctl', '/usr/bin:/bin');
  if (!loginctl) return readLingering(user, null);
  try {
    return readLingering(
      user,
      await run(loginctl, ['show-user', user, '-p', 'Linger'], { allowFail: true, timeoutMs: PROBE_TIMEOUT_MS }),
    );
  } catch (err) {
    return { user, enabled: null, reason: `loginctl could not answer (${oneLine((err as Error).message, 200)})` };
  }
}
