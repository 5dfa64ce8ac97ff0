/**
 * Shared by the launchctl stand-in (./launchctl) and its per-job supervisor
 * (./standin-job): where a "loaded" job's state lives, and small file helpers.
 * Exports only, so uvu importing it as a suite does nothing.
 *
 * $LAUNCHCTL_STANDIN_DIR (default $HOME/.launchctl-standin):
 *   calls.jsonl             one line per launchctl call (or $LAUNCHCTL_STANDIN_LOG)
 *   disabled.json           labels `launchctl disable` turned off
 *   jobs/<label>.json       a loaded job: its plist as parsed, its supervisor's pid
 *   jobs/<label>.run.json   written by the supervisor: pid, lastPid, state, runs, last exit code, acks
 *   jobs/<label>.log        the supervisor's own notes (why a job failed to start)
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync, appendFileSync } from 'node:fs';
import { join, dirname } from 'node:path';

/** launchd's own PATH for a job whose plist sets none. */
export const DEFAULT_PATH = '/usr/bin:/bin:/usr/sbin:/sbin';

export function getStateDir(env = process.env) {
  return env.LAUNCHCTL_STANDIN_DIR || join(env.HOME || '/tmp', '.launchctl-standin');
}

export function jobFile(stateDir, label) {
  return join(stateDir, 'jobs', `${label}.json`);
}

export function runFile(stateDir, label) {
  return join(stateDir, 'jobs', `${label}.run.json`);
}

export function noteFile(stateDir, label) {
  return join(stateDir, 'jobs', `${label}.log`);
}

export function readJson(path, fallback = null) {
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch {
    return fallback;
  }
}

/** Temp file and rename: the CLI and the supervisor read each other's files at any time. */
export function writeJson(path, value) {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(value, null, 2) + '\n');
  renameSync(tmp, path);
}

export function note(stateDir, label, message) {
  mkdirSync(join(stateDir, 'jobs'), { recursive: true });
  appendFileSync(noteFile(stateDir, label), `${new Date().toISOString()} ${message}\n`);
}

/** Alive and not a zombie (kill 0 alone counts zombies as alive). */
export function isAlive(pid) {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (err) {
    return err.code === 'EPERM';
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return process.platform !== 'linux';
  }
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
