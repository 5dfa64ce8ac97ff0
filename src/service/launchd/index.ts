/**
 * The launchd backend (DESIGN §4): two resident LaunchAgents per site (the sync agent,
 * `sync --watch`, and the server agent, `run`) in the user's gui/<uid> domain, driven
 * through launchctl. Both are RunAtLoad and kept alive by launchd. A plist is written only
 * when its content changed, and only a changed (or unloaded) agent is booted out and
 * bootstrapped again, so re-running install with the same flags restarts nothing. What the
 * agents contain is in plist.ts; this module only talks to the disk and to launchctl.
 */
import { existsSync, unlinkSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { OpsError, describeError, oneLine } from '../../errors.js';
import { ensureDir, findOnPath, readTextOrNull, writeFileIfChanged } from '../../os/fs.js';
import { getHome } from '../../site/paths.js';
import { run, sleep, type RunResult } from '../../os/exec.js';
import {
  getLabel,
  getStringArray,
  type JobDefinition,
  type JobKind,
  type JobSpec,
  type JobStatus,
  type ServiceBackend,
} from '../jobs.js';

/** `launchctl print` of a service the domain does not hold ("Could not find service"). */
const NOT_LOADED = 113;
/** `bootstrap` of a service still loaded, or still being torn down after a bootout. */
const BUSY = 5;
const BOOTSTRAP_RETRY_MS = 5000;
/** The server's ExitTimeOut (templates/launchagents/server.plist) plus time for launchd itself. */
const UNLOAD_TIMEOUT_MS = 30_000;
const START_WAIT_MS = 5000;

/** ~/Library/LaunchAgents/<label>.plist, with HOME taken from the environment. */
export function getAgentPath(label: string, home = getHome()): string {
  return join(home, 'Library', 'LaunchAgents', `${label}.plist`);
}

export interface AgentState {
  state: string | null;
  pid: number | null;
  lastExit: number | null;
}

/**
 * Pure: the three facts read from `launchctl print`. Its text is no API, so nothing else
 * is read, and only the service's own (one-tab) level counts: nested blocks such as
 * endpoints may carry a `state` of their own.
 */
export function parsePrint(text: string): AgentState {
  const top = new Map<string, string>();
  // One tab deep; should a macOS version indent with spaces, the first occurrence instead.
  for (const re of [/^\t([a-z][a-z ]*?) = (.*)$/, /^\s+([a-z][a-z ]*?) = (.*)$/]) {
    for (const line of text.split('\n')) {
      const m = re.exec(line);
      if (m && !top.has(m[1])) top.set(m[1], m[2].trim());
    }
    if (top.has('state')) break;
  }
  const int = (v: string | undefined) => (v !== undefined && /^-?\d+/.test(v) ? parseInt(v, 10) : null);
  // "last exit code = 78: EX_CONFIG" on recent macOS, "(never exited)" before the first exit.
  return { state: top.get('state') ?? null, pid: int(top.get('pid')), lastExit: int(top.get('last exit code')) };
}

function getDomain(): string {
  const uid = process.getuid?.();
  if (uid === undefined)
    throw new OpsError('The launchd backend needs a POSIX user id.', 'Reinstall with --service process.');
  return `gui/${uid}`;
}

function getTarget(label: string): string {
  return `${getDomain()}/${label}`;
}

function getLaunchctl(): string {
  // /bin/launchctl is where macOS keeps it, should a job's PATH ever lack /bin.
  const found = findOnPath('launchctl') ?? (existsSync('/bin/launchctl') ? '/bin/launchctl' : null);
  if (!found)
    throw new OpsError(
      'launchctl is not on PATH, so the launchd jobs cannot be managed.',
      'Run this on macOS, or reinstall with --service process.',
    );
  return found;
}

function launchctl(args: string[]): Promise<RunResult> {
  // bootout can block while a job takes its ExitTimeOut to stop.
  return run(getLaunchctl(), args, { allowFail: true, timeoutMs: 60_000 });
}

function failure(args: string[], r: RunResult): OpsError {
  const said = oneLine(r.stderr || r.stdout, 300);
  return new OpsError(
    `launchctl ${args.join(' ')} failed with exit ${r.code}${said ? `: ${said}` : '.'}`,
    "See the launchd-*.log files in the site's logs folder, and launchctl print for the job.",
  );
}

async function must(args: string[]): Promise<void> {
  const r = await launchctl(args);
  if (r.code !== 0) throw failure(args, r);
}

/** The agent as launchd sees it, or null when it is not loaded. */
async function printAgent(label: string): Promise<AgentState | null> {
  const args = ['print', getTarget(label)];
  const r = await launchctl(args);
  if (r.code === NOT_LOADED) return null;
  if (r.code !== 0) throw failure(args, r);
  return parsePrint(r.stdout);
}

/** bootout returns before launchd has let go of the job; a bootstrap right then fails with 5. */
async function bootout(label: string): Promise<void> {
  const args = ['bootout', getTarget(label)];
  const r = await launchctl(args);
  const deadline = Date.now() + UNLOAD_TIMEOUT_MS;
  while ((await printAgent(label)) !== null) {
    if (Date.now() > deadline) {
      const said = r.code !== 0 ? ` (bootout said: ${oneLine(r.stderr || r.stdout, 200) || `exit ${r.code}`})` : '';
      throw new OpsError(
        `launchd still holds ${label} ${UNLOAD_TIMEOUT_MS / 1000} s after bootout${said}.`,
        `Run launchctl bootout ${getTarget(label)}, then try again.`,
      );
    }
    await sleep(100);
  }
}

/** enable first: a service someone disabled (launchctl disable) would refuse to bootstrap. */
async function bootstrap(label: string, path: string): Promise<void> {
  await must(['enable', getTarget(label)]);
  const args = ['bootstrap', getDomain(), path];
  const deadline = Date.now() + BOOTSTRAP_RETRY_MS;
  for (;;) {
    const r = await launchctl(args);
    if (r.code === 0) return;
    if (r.code !== BUSY || Date.now() > deadline) throw failure(args, r);
    await sleep(250);
  }
}

type Renderer = typeof import('./plist.js');
let renderer: Promise<Renderer> | undefined;
/** Loaded on first use: the plist package costs a noop sync ~60 ms it does not need. */
const getRenderer = () => (renderer ??= import('./plist.js'));

/**
 * Makes one agent match its spec: creates the folders it needs (launchd fails a job whose
 * log or working folder is missing with exit 78), and when the plist changed or the agent
 * is not loaded, boots out the old one, writes the plist (temp file, chmod 0644, rename)
 * and bootstraps it. Written only after a successful bootout, so a failed one is retried
 * next time rather than leaving the old agent loaded beside a new file.
 */
async function reconcile(spec: JobSpec): Promise<{ loaded: boolean; state: AgentState | null }> {
  const text = (await getRenderer()).renderAgentText(spec);
  const path = getAgentPath(spec.label);
  const changed = readTextOrNull(path) !== text;
  ensureDir(spec.workingDirectory);
  ensureDir(dirname(spec.stdoutPath));
  ensureDir(dirname(spec.stderrPath));
  const state = await printAgent(spec.label);
  if (state && !changed) {
    writeFileIfChanged(path, text, 0o644); // only puts the mode right
    return { loaded: false, state };
  }
  if (state) await bootout(spec.label);
  writeFileIfChanged(path, text, 0o644);
  await bootstrap(spec.label, path);
  return { loaded: true, state: null };
}

/**
 * launchd starts a RunAtLoad or kickstarted job shortly after launchctl returns. Waits
 * until a process other than `oldPid` runs, so the caller cannot take the agent being
 * stopped for the new one; an agent that fails to start is left to the caller's own wait.
 */
async function waitStarted(label: string, oldPid: number | null): Promise<void> {
  const deadline = Date.now() + START_WAIT_MS;
  while (Date.now() < deadline) {
    const state = await printAgent(label);
    if (state?.state === 'running' && state.pid !== oldPid) return;
    await sleep(100);
  }
}

/** Both agents are resident: loaded but not running is a crash waiting out its ThrottleInterval, or worse. */
function describeState(state: AgentState | null, hasPlist: boolean): string {
  if (!state) return hasPlist ? 'plist installed but not loaded' : 'not installed';
  const exit = state.lastExit !== null ? `, last exit code ${state.lastExit}` : '';
  if (state.state === 'running') return `running, pid ${state.pid ?? '?'}${exit}`;
  return `loaded but ${state.state ?? 'in an unknown state'}${exit}`;
}

export const launchdBackend: ServiceBackend = {
  kind: 'launchd',

  async apply(site, specs) {
    const touched: JobKind[] = [];
    for (const spec of specs) {
      const { loaded, state } = await reconcile(spec);
      if (loaded) {
        touched.push(spec.kind);
      } else if (state?.state !== 'running') {
        // Loaded and unchanged, but down (a crash waiting out its ThrottleInterval): start it now.
        await must(['kickstart', getTarget(spec.label)]);
        touched.push(spec.kind);
      }
    }
    return touched;
  },

  async restart(site, spec) {
    // A changed or unloaded agent is (re)bootstrapped, and RunAtLoad starts it; otherwise
    // kickstart -k ends the running agent (ExitTimeOut applies) and starts it again.
    const { loaded, state } = await reconcile(spec);
    if (!loaded) await must(['kickstart', '-k', getTarget(spec.label)]);
    await waitStarted(spec.label, state?.pid ?? null);
  },

  async isRunning(site, kind) {
    return (await printAgent(getLabel(site.name, kind)))?.state === 'running';
  },

  getDefinitionPath(site, kind) {
    return getAgentPath(getLabel(site.name, kind));
  },

  async parseDefinition(text) {
    try {
      const { parse } = await import('plist');
      const data: unknown = parse(text);
      return data && typeof data === 'object' && !Array.isArray(data) ? (data as JobDefinition) : null;
    } catch {
      return null;
    }
  },

  async renderDefinition(spec) {
    const { renderAgentText } = await getRenderer();
    return this.parseDefinition(renderAgentText(spec));
  },

  getProgramArguments(definition) {
    return getStringArray(definition.ProgramArguments);
  },

  async getCaveats() {
    return { note: '', whenDown: '', evidence: [] };
  },

  async status(site, specs) {
    const { renderAgentText } = await getRenderer();
    const one = async (spec: JobSpec): Promise<JobStatus> => {
      const installed = readTextOrNull(getAgentPath(spec.label));
      let current = false;
      try {
        current = installed !== null && installed === renderAgentText(spec);
      } catch {
        // a spec that cannot be rendered is not what is installed
      }
      let state: AgentState | null;
      try {
        state = await printAgent(spec.label);
      } catch (err) {
        return {
          installed: installed !== null,
          running: false,
          pid: null,
          lastExit: null,
          current,
          detail: describeError(err),
        };
      }
      // Both agents are resident: each runs for as long as it is loaded.
      const running = state?.state === 'running';
      return {
        installed: installed !== null,
        running,
        pid: state?.state === 'running' ? state.pid : null,
        lastExit: state?.lastExit ?? null,
        current,
        detail: describeState(state, installed !== null),
      };
    };
    const bySpec = new Map(specs.map((s) => [s.kind, s]));
    return { sync: await one(bySpec.get('sync') as JobSpec), server: await one(bySpec.get('server') as JobSpec) };
  },

  async remove(site) {
    // The sync agent first, so it cannot restart the server between the two bootouts.
    let firstError: unknown = null;
    for (const kind of ['sync', 'server'] as const) {
      const label = getLabel(site.name, kind);
      try {
        if ((await printAgent(label)) !== null) await bootout(label);
      } catch (err) {
        firstError ??= err;
      }
      // Removed even when the bootout failed: a plist left behind would load again at login.
      try {
        unlinkSync(getAgentPath(label));
      } catch {
        // never installed
      }
    }
    if (firstError) throw firstError;
  },
};
