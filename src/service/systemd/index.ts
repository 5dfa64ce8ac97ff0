/**
 * The systemd backend (DESIGN §4): two user units per site, driven through
 * `systemctl --user`. A unit file is written only when its content changed, and only a
 * changed (or stopped) unit is restarted (or started), so re-running install with the same
 * flags restarts nothing. What the units contain is in unit.ts; how systemctl is called
 * and its failures read, in systemctl.ts; this module decides and waits.
 */
import { existsSync, readFileSync, statSync, unlinkSync } from 'node:fs';
import { dirname, isAbsolute, join } from 'node:path';
import { OpsError, describeWithFix, oneLine } from '../../errors.js';
import { ensureDir, readTextOrNull, writeFileIfChanged } from '../../os/fs.js';
import { sleep } from '../../os/exec.js';
import { getHome, tildify } from '../../site/paths.js';
import type { Site } from '../../site/config.js';
import type { JobKind, JobSpec, JobStatus, ServiceBackend } from '../jobs.js';
import { getLingering, mustSystemctl, systemctl } from './systemctl.js';
import {
  SHOW_PROPERTIES,
  describeExit,
  getUnitName,
  getUnitProgramArguments,
  isUnitFailing,
  isUnitRunning,
  isUnitUp,
  parseShow,
  parseUnitText,
  planUnit,
  renderUnitText,
  type UnitState,
} from './unit.js';

/** How long apply and restart watch a started unit for an early failure. */
const START_WAIT_MS = 5000;
/** A main process that stays up this long after its start counts as started. */
const SETTLE_MS = 1000;
const LOG_TAIL_LINES = 5;

/** `$XDG_CONFIG_HOME/systemd/user`, or `~/.config/systemd/user`, where the user manager reads units. */
export function getUnitDir(env: NodeJS.ProcessEnv = process.env): string {
  const xdg = env.XDG_CONFIG_HOME;
  return join(xdg && isAbsolute(xdg) ? xdg : join(env.HOME || getHome(), '.config'), 'systemd', 'user');
}

export function getUnitPath(site: Site, kind: JobKind): string {
  return join(getUnitDir(), getUnitName(site.name, kind));
}

export async function showUnit(unit: string): Promise<UnitState> {
  const r = await mustSystemctl(['show', '-p', SHOW_PROPERTIES.join(','), unit]);
  return parseShow(r.stdout);
}

function getLogSize(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

/** The last lines a log got from byte `from` on (none when it did not grow), colour codes stripped. */
export function readLogTail(path: string, from = 0, count = LOG_TAIL_LINES): string[] {
  let text: string;
  try {
    text = readFileSync(path).subarray(from).toString('utf8');
  } catch {
    return [];
  }
  const lines = text
    .replace(/\u001b\[[0-9;]*[A-Za-z]/g, '')
    .split(/\r?\n/)
    .map((l) => l.trimEnd())
    .filter((l) => l.trim() !== '');
  return lines.slice(-count);
}

/** A unit whose process failed: the exit, and the last lines of the log it wrote. */
function unitFailed(unit: string, spec: JobSpec, state: UnitState, logFrom: number): OpsError {
  const log = spec.stderrPath;
  const tail = readLogTail(log, logFrom);
  const restarts = state.nRestarts ? `, restarted ${state.nRestarts} time${state.nRestarts > 1 ? 's' : ''}` : '';
  const said = tail.length
    ? `; its log ${tildify(log)} ends with: ${oneLine(tail.join(' | '), 600)}`
    : `, and wrote nothing to its log ${tildify(log)}`;
  return new OpsError(
    `The systemd unit ${unit} ${describeExit(state.execMainStatus, spec)}${restarts}${said}.`,
    `Fix ${tail.length ? 'what the log names' : 'that'}, then run localhost-ops install again (systemctl --user status ${unit} shows more).`,
  );
}

/**
 * systemd reports a Type=simple unit started as soon as it forked. Watches it until a main
 * process other than `oldPid` has stayed up for SETTLE_MS, and throws the failure with
 * its log lines when it exits with an error first. A clean exit (the one-shot sync) or a
 * slow start is left to doctor and the health gate.
 */
async function waitStarted(unit: string, spec: JobSpec, oldPid: number | null, logFrom: number): Promise<void> {
  const deadline = Date.now() + START_WAIT_MS;
  let seenPid: number | null = null;
  let seenAt = 0;
  for (;;) {
    const state = await showUnit(unit);
    if (isUnitFailing(state)) throw unitFailed(unit, spec, state, logFrom);
    if (isUnitRunning(state) && state.mainPid !== oldPid) {
      if (seenPid !== state.mainPid) {
        seenPid = state.mainPid;
        seenAt = Date.now();
      } else if (Date.now() - seenAt >= SETTLE_MS) {
        return;
      }
    } else if (!isUnitUp(state) || state.subState === 'auto-restart') {
      return; // it ran and exited cleanly: a failure was caught above
    }
    if (Date.now() > deadline) return;
    await sleep(100);
  }
}

interface Prepared {
  spec: JobSpec;
  unit: string;
  path: string;
  changed: boolean;
  state: UnitState;
}

/**
 * Writes the units that changed (0644, temp file and rename) after creating the folders
 * they name, and has systemd load them. Asks systemd first, so that with no user manager
 * nothing is written. A unit whose file systemd has not loaded yet (a write whose reload
 * failed) counts as changed.
 */
async function prepare(site: Site, specs: JobSpec[]): Promise<Prepared[]> {
  const rendered = specs.map((spec) => ({
    spec,
    unit: getUnitName(site.name, spec.kind),
    path: getUnitPath(site, spec.kind),
    text: renderUnitText(spec),
  }));
  const before = await Promise.all(rendered.map((r) => showUnit(r.unit)));
  for (const { spec } of rendered) {
    ensureDir(spec.workingDirectory);
    ensureDir(dirname(spec.stdoutPath));
    ensureDir(dirname(spec.stderrPath));
  }
  const changed = rendered.map((r, i) => writeFileIfChanged(r.path, r.text, 0o644) || before[i].needDaemonReload);
  const loaded = before.every((s) => s.loadState === 'loaded');
  if (changed.some(Boolean) || !loaded) await mustSystemctl(['daemon-reload']);
  const after = await Promise.all(rendered.map((r) => showUnit(r.unit)));
  return rendered.map((r, i) => {
    if (after[i].loadState !== 'loaded') {
      throw new OpsError(
        `systemd could not load ${r.path} (LoadState ${after[i].loadState || 'unknown'}).`,
        `Run systemd-analyze --user verify ${r.unit} to see why, then run localhost-ops install again.`,
      );
    }
    return { spec: r.spec, unit: r.unit, path: r.path, changed: changed[i], state: after[i] };
  });
}

function describeState(state: UnitState | null, hasFile: boolean): string {
  if (!state || state.loadState === 'not-found') {
    return hasFile ? 'unit file written but not loaded (systemctl --user daemon-reload loads it)' : 'not installed';
  }
  if (state.loadState !== 'loaded') return `systemd could not load its unit file (${state.loadState})`;
  const restarts = state.nRestarts ? `, restarted ${state.nRestarts} time${state.nRestarts > 1 ? 's' : ''}` : '';
  const enabled = state.unitFileState === 'enabled' ? '' : `, ${state.unitFileState || 'not enabled'}`;
  if (isUnitRunning(state)) return `running, pid ${state.mainPid}${restarts}${enabled}`;
  if (state.subState === 'auto-restart')
    return `${describeExit(state.execMainStatus)}, restarting shortly${restarts}${enabled}`;
  if (state.activeState === 'failed') return `failed: ${describeExit(state.execMainStatus)}${restarts}${enabled}`;
  if (state.activeState === 'inactive') return `stopped${enabled}`;
  return `${state.activeState} (${state.subState})${restarts}${enabled}`;
}

export const systemdBackend: ServiceBackend = {
  kind: 'systemd',

  async apply(site, specs) {
    const prepared = await prepare(site, specs);
    const started: { p: Prepared; logFrom: number }[] = [];
    for (const p of prepared) {
      const { enable, action } = planUnit(p.spec.kind, p.changed, p.state);
      if (enable) await mustSystemctl(['enable', p.unit]);
      if (action === 'none') continue;
      const logFrom = getLogSize(p.spec.stderrPath);
      await mustSystemctl([action, p.unit]);
      started.push({ p, logFrom });
    }
    await Promise.all(started.map(({ p, logFrom }) => waitStarted(p.unit, p.spec, p.state.mainPid, logFrom)));
    return started.map(({ p }) => p.spec.kind);
  },

  async restart(site, spec) {
    const [p] = await prepare(site, [spec]);
    if (p.state.unitFileState !== 'enabled') await mustSystemctl(['enable', p.unit]);
    const logFrom = getLogSize(spec.stderrPath);
    await mustSystemctl(['restart', p.unit]);
    await waitStarted(p.unit, spec, p.state.mainPid, logFrom);
  },

  async isRunning(site, kind) {
    const state = await showUnit(getUnitName(site.name, kind));
    // The sync job counts as up while systemd brings it back (see status).
    return kind === 'sync' ? isUnitUp(state) : isUnitRunning(state);
  },

  getDefinitionPath(site, kind) {
    return getUnitPath(site, kind);
  },

  async parseDefinition(text) {
    return parseUnitText(text);
  },

  async renderDefinition(spec) {
    return parseUnitText(renderUnitText(spec));
  },

  getProgramArguments(definition) {
    return getUnitProgramArguments(definition);
  },

  /** Without lingering, a user's jobs stop at logout and wait for the next login after a boot. */
  async getCaveats() {
    const linger = await getLingering();
    const evidence = [
      `lingering for ${linger.user}: ${linger.enabled === null ? `unknown, ${linger.reason}` : linger.enabled ? 'on' : 'off'}`,
    ];
    if (linger.enabled === false) {
      const enable = `loginctl enable-linger ${linger.user}`;
      return {
        note: '; lingering off',
        whenDown: '',
        evidence,
        warning: {
          summary: `lingering is off for ${linger.user}: the jobs stop at logout, and after a boot they wait for the next login`,
          fix: `Run ${enable}: the user manager then starts at boot and keeps the jobs running without a login.`,
          command: enable,
        },
      };
    }
    return {
      note: linger.enabled ? '; lingering on' : `; lingering unknown: ${linger.reason}`,
      whenDown: '',
      evidence,
    };
  },

  async status(site, specs) {
    const one = async (spec: JobSpec): Promise<JobStatus> => {
      const installed = readTextOrNull(getUnitPath(site, spec.kind));
      let current = false;
      try {
        current = installed !== null && installed === renderUnitText(spec);
      } catch {
        // a spec that cannot be rendered is not what is installed
      }
      let state: UnitState;
      try {
        state = await showUnit(getUnitName(site.name, spec.kind));
      } catch (err) {
        const detail = describeWithFix(err);
        return { installed: installed !== null, running: false, pid: null, lastExit: null, current, detail };
      }
      const loaded = state.loadState === 'loaded';
      const running = isUnitRunning(state);
      return {
        installed: installed !== null,
        // Until the sync command is resident it exits after each run, and Restart=always
        // starts it again: up (running or waiting to restart) is its "running".
        running: loaded && (spec.kind === 'sync' ? isUnitUp(state) : running),
        pid: running ? state.mainPid : null,
        lastExit: loaded && !running ? state.execMainStatus : null,
        current,
        detail: describeState(state, installed !== null),
      };
    };
    const bySpec = new Map(specs.map((s) => [s.kind, s]));
    const [sync, server] = await Promise.all([one(bySpec.get('sync')!), one(bySpec.get('server')!)]);
    return { sync, server };
  },

  async remove(site) {
    // The sync job first, so it cannot restart the server between the two stops.
    let firstError: unknown = null;
    let reachable = true;
    for (const kind of ['sync', 'server'] as const) {
      const unit = getUnitName(site.name, kind);
      const path = getUnitPath(site, kind);
      try {
        const state = await showUnit(unit);
        if (existsSync(path)) await mustSystemctl(['disable', '--now', unit]);
        else if (isUnitUp(state)) await mustSystemctl(['stop', unit]);
      } catch (err) {
        firstError ??= err;
        reachable = false;
      }
      // Removed even when systemctl failed: a unit left behind would start at the next login.
      for (const file of [path, join(getUnitDir(), 'default.target.wants', unit)]) {
        try {
          unlinkSync(file);
        } catch {
          // never installed, or disable removed it
        }
      }
    }
    if (!reachable) throw firstError;
    await mustSystemctl(['daemon-reload']);
    // A unit that failed stays listed until this, even with its file gone; one that is
    // not loaded any more makes reset-failed complain, which is fine.
    await systemctl(['reset-failed', getUnitName(site.name, 'sync'), getUnitName(site.name, 'server')]);
  },
};
