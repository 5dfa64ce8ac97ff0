/**
 * The launchd backend (DESIGN §4): two resident LaunchAgents per site (the sync agent,
 * `sync --watch`, and the server agent, `run`), driven through launchctl. Both are RunAtLoad
 * and kept alive by launchd. A plist is written only when its content changed, and only a
 * changed (or unloaded) agent is booted out and bootstrapped again, so re-running install
 * with the same flags restarts nothing. What the agents contain is in plist.ts; what
 * launchctl's codes mean is in codes.ts; this module talks to the disk and to launchctl.
 *
 * Domains: gui/<uid> where someone is logged in at the screen; where that domain does not
 * exist (125: over SSH, a headless Mac) the agents load in user/<uid>, and status says so.
 * There is no record of the domain besides launchd itself: an agent is looked for in gui/
 * first, then in user/, so the answer cannot go stale when someone logs in later.
 * Recovery where a retry helps: 37 is waited out; a bootstrap that fails with 5 is retried
 * once after a bootout that is waited for; a kickstart that finds no service (113) is a
 * bootstrap instead.
 */
import { existsSync, unlinkSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { OpsError, describeError } from '../../errors.js';
import { ensureDir, findOnPath, readTextOrNull, writeFileIfChanged } from '../../os/fs.js';
import { getHome, tildify } from '../../site/paths.js';
import { installCommand } from '../../site/fix-commands.js';
import type { Site } from '../../site/config.js';
import { run, sleep, type RunResult } from '../../os/exec.js';
import {
  getLabel,
  getStringArray,
  type JobDefinition,
  type JobKind,
  type JobSpec,
  type JobStatus,
  type BackendCaveats,
  type ServiceBackend,
} from '../jobs.js';
import { IN_PROGRESS, IO_ERROR, NOT_LOADED, describeFailure, isNoDomain } from './codes.js';

/** How long a 37 (operation already in progress) is waited out, retrying. */
const BUSY_RETRY_MS = 10_000;
/** The server's ExitTimeOut (templates/launchagents/server.plist) plus time for launchd itself. */
const UNLOAD_TIMEOUT_MS = 30_000;
/** After a bootout that cured a 5, launchd's own bookkeeping gets this long before the retry. */
const SETTLE_MS = 500;
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

/** An agent as launchd holds it, and the domain it is loaded in. */
interface Loaded extends AgentState {
  domain: string;
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

/** Pure: the domains an agent of this user may load in, the preferred one first. */
export function getDomains(uid: number): { gui: string; user: string } {
  return { gui: `gui/${uid}`, user: `user/${uid}` };
}

function domains(): { gui: string; user: string } {
  const uid = process.getuid?.();
  if (uid === undefined)
    throw new OpsError('The launchd backend needs a POSIX user id.', 'Reinstall with --service process.');
  return getDomains(uid);
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

/** What the calls for one site need to word a failure. */
interface Context {
  install: string;
}

function contextOf(site: Site): Context {
  return { install: installCommand(site.config) };
}

interface About {
  label: string;
  domain: string;
  spec?: JobSpec;
  plist?: string;
  tries?: number;
}

function failure(ctx: Context, about: About, args: string[], r: RunResult): OpsError {
  const { message, fix } = describeFailure({
    args,
    code: r.code,
    said: r.stderr || r.stdout,
    label: about.label,
    domain: about.domain,
    plist: about.plist && tildify(about.plist),
    program: about.spec && tildify(about.spec.programArguments[0]),
    workingDirectory: about.spec && tildify(about.spec.workingDirectory),
    install: ctx.install,
    tries: about.tries,
  });
  return new OpsError(message, fix);
}

/** One call; a 37 (launchd still busy with the service) is waited out and the call repeated. */
async function call(args: string[]): Promise<RunResult & { tries: number }> {
  const deadline = Date.now() + BUSY_RETRY_MS;
  let pause = 250;
  for (let tries = 1; ; tries++) {
    const r = await launchctl(args);
    if (r.code !== IN_PROGRESS || Date.now() + pause > deadline) return { ...r, tries };
    await sleep(pause);
    pause = Math.min(pause * 2, 2000);
  }
}

/** The agent in one domain, or null when it is not loaded there (or that domain does not exist). */
async function printIn(ctx: Context, domain: string, label: string): Promise<AgentState | null> {
  const args = ['print', `${domain}/${label}`];
  const r = await call(args);
  if (r.code === 0) return parsePrint(r.stdout);
  if (r.code === NOT_LOADED || isNoDomain(r.code)) return null;
  throw failure(ctx, { label, domain, tries: r.tries }, args, r);
}

/** Where launchd holds the agent: gui/<uid> first, then user/<uid>; null when in neither. */
async function locate(ctx: Context, label: string): Promise<Loaded | null> {
  for (const domain of Object.values(domains())) {
    const state = await printIn(ctx, domain, label);
    if (state) return { ...state, domain };
  }
  return null;
}

/** Does this login have a gui/<uid> domain (someone logged in at the screen)? */
async function hasGuiDomain(): Promise<boolean> {
  const r = await launchctl(['print', domains().gui]);
  return !isNoDomain(r.code) && r.code !== NOT_LOADED;
}

/**
 * bootout returns before launchd has let go of the job (a bootstrap right then fails with 5
 * or 37): waits until `print` no longer finds it. A label already gone (113) is fine.
 */
async function bootout(ctx: Context, domain: string, label: string): Promise<void> {
  const args = ['bootout', `${domain}/${label}`];
  const r = await call(args);
  const deadline = Date.now() + UNLOAD_TIMEOUT_MS;
  while ((await printIn(ctx, domain, label)) !== null) {
    if (Date.now() > deadline) {
      if (r.code !== 0 && r.code !== NOT_LOADED) throw failure(ctx, { label, domain }, args, r);
      throw new OpsError(
        `launchd still holds ${label} in ${domain} ${UNLOAD_TIMEOUT_MS / 1000} s after bootout.`,
        `Run launchctl bootout ${domain}/${label}, then ${ctx.install}.`,
      );
    }
    await sleep(100);
  }
}

/**
 * Loads the plist in one domain: enable (a label someone disabled would refuse to load),
 * then bootstrap. A 5 (the label still loaded, or launchd not done with its bootout) is
 * cured once by a bootout that is waited for. Returns launchctl's answer when the domain
 * does not exist (125), true once loaded.
 */
async function bootstrapIn(ctx: Context, domain: string, spec: JobSpec, path: string): Promise<true | RunResult> {
  const about: About = { label: spec.label, domain, spec, plist: path };
  const enable = ['enable', `${domain}/${spec.label}`];
  const e = await call(enable);
  if (isNoDomain(e.code)) return e;
  if (e.code !== 0) throw failure(ctx, { ...about, tries: e.tries }, enable, e);
  const args = ['bootstrap', domain, path];
  let tries = 0;
  for (let retried = false; ; retried = true) {
    const r = await call(args);
    tries += r.tries;
    if (r.code === 0) return true;
    if (isNoDomain(r.code)) return r;
    if (r.code !== IO_ERROR || retried) throw failure(ctx, { ...about, tries }, args, r);
    await bootout(ctx, domain, spec.label);
    await sleep(SETTLE_MS);
  }
}

/** Loads the agent in gui/<uid>, or in user/<uid> where there is no GUI domain (125). Returns the domain. */
async function load(ctx: Context, spec: JobSpec, path: string): Promise<string> {
  const { gui, user } = domains();
  if ((await bootstrapIn(ctx, gui, spec, path)) === true) return gui;
  const r = await bootstrapIn(ctx, user, spec, path);
  if (r === true) return user;
  throw failure(ctx, { label: spec.label, domain: user, spec, plist: path }, ['bootstrap', user, path], r);
}

/**
 * Starts a loaded agent (kickstart; with -k, ends the running one first). A 113 means it is
 * not loaded after all (booted out meanwhile): it is bootstrapped instead, and RunAtLoad
 * starts it.
 */
async function kickstart(ctx: Context, loaded: Loaded, spec: JobSpec, kill: boolean): Promise<string> {
  const args = ['kickstart', ...(kill ? ['-k'] : []), `${loaded.domain}/${spec.label}`];
  const r = await call(args);
  if (r.code === 0) return loaded.domain;
  if (r.code === NOT_LOADED) return load(ctx, spec, getAgentPath(spec.label));
  throw failure(ctx, { label: spec.label, domain: loaded.domain, spec, tries: r.tries }, args, r);
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
 * next time rather than leaving the old agent loaded beside a new file. An agent loaded in
 * user/<uid> while a GUI session exists now is moved into gui/<uid>.
 */
async function reconcile(ctx: Context, spec: JobSpec): Promise<{ loaded: Loaded | null; state: Loaded | null }> {
  const text = (await getRenderer()).renderAgentText(spec);
  const path = getAgentPath(spec.label);
  const changed = readTextOrNull(path) !== text;
  ensureDir(spec.workingDirectory);
  ensureDir(dirname(spec.stdoutPath));
  ensureDir(dirname(spec.stderrPath));
  const state = await locate(ctx, spec.label);
  const move = state !== null && state.domain !== domains().gui && (await hasGuiDomain());
  if (state && !changed && !move) {
    writeFileIfChanged(path, text, 0o644); // only puts the mode right
    return { loaded: null, state };
  }
  if (state) await bootout(ctx, state.domain, spec.label);
  writeFileIfChanged(path, text, 0o644);
  const domain = await load(ctx, spec, path);
  return { loaded: { domain, state: null, pid: null, lastExit: null }, state };
}

/**
 * launchd starts a RunAtLoad or kickstarted job shortly after launchctl returns. Waits
 * until a process other than `oldPid` runs, so the caller cannot take the agent being
 * stopped for the new one; an agent that fails to start is left to the caller's own wait.
 */
async function waitStarted(ctx: Context, domain: string, label: string, oldPid: number | null): Promise<void> {
  const deadline = Date.now() + START_WAIT_MS;
  while (Date.now() < deadline) {
    const state = await printIn(ctx, domain, label);
    if (state?.state === 'running' && state.pid !== oldPid) return;
    await sleep(100);
  }
}

/** Both agents are resident: loaded but not running is a crash waiting out its ThrottleInterval, or worse. */
function describeState(state: Loaded | null, hasPlist: boolean): string {
  if (!state) return hasPlist ? 'plist installed but not loaded' : 'not installed';
  const exit = state.lastExit !== null ? `, last exit code ${state.lastExit}` : '';
  const where = state.domain.startsWith('user/') ? `, in ${state.domain}` : '';
  if (state.state === 'running') return `running, pid ${state.pid ?? '?'}${exit}${where}`;
  return `loaded but ${state.state ?? 'in an unknown state'}${exit}${where}`;
}

/**
 * Pure: what doctor's service check says about the domains the agents are loaded in. Where
 * gui/<uid> did not exist (125: SSH, a headless Mac) they are in user/<uid>: a warning, since
 * they then start with the next login of any kind rather than with the GUI session.
 */
export function describeDomains(
  loadedIn: Partial<Record<JobKind, string | null>>,
  uid: number,
  guiExists: boolean,
  install: string,
): BackendCaveats {
  const { gui, user } = getDomains(uid);
  const evidence = Object.entries(loadedIn).map(
    ([kind, domain]) => `${kind} agent: ${domain ? `loaded in ${domain}` : 'not loaded'}`,
  );
  const caveats: BackendCaveats = { note: '', whenDown: '', evidence };
  if (!Object.values(loadedIn).includes(user)) return caveats;
  caveats.note = `, in ${user}`;
  caveats.warning = guiExists
    ? {
        summary: `the jobs are loaded in ${user}, not ${gui}, though a GUI session exists now`,
        fix: `Run ${install}: it moves them into ${gui}.`,
        command: install,
      }
    : {
        summary: `the jobs run in ${user}, not ${gui}: no one is logged in at this Mac's screen (SSH or headless), so launchd has no GUI domain (launchctl 125); after a restart they start again with your next login`,
        fix: `Nothing needs doing while that suits you; to load them with the GUI session instead, log in at the screen and run ${install}: it moves them into ${gui}.`,
        command: install,
      };
  return caveats;
}

export const launchdBackend: ServiceBackend = {
  kind: 'launchd',

  async apply(site, specs) {
    const ctx = contextOf(site);
    const touched: JobKind[] = [];
    for (const spec of specs) {
      const { loaded, state } = await reconcile(ctx, spec);
      if (loaded) {
        touched.push(spec.kind);
      } else if (state && state.state !== 'running') {
        // Loaded and unchanged, but down (a crash waiting out its ThrottleInterval): start it now.
        await kickstart(ctx, state, spec, false);
        touched.push(spec.kind);
      }
    }
    return touched;
  },

  async restart(site, spec) {
    // A changed or unloaded agent is (re)bootstrapped, and RunAtLoad starts it; otherwise
    // kickstart -k ends the running agent (ExitTimeOut applies) and starts it again.
    const ctx = contextOf(site);
    const { loaded, state } = await reconcile(ctx, spec);
    const domain = loaded ? loaded.domain : await kickstart(ctx, state as Loaded, spec, true);
    await waitStarted(ctx, domain, spec.label, state?.pid ?? null);
  },

  async isRunning(site, kind) {
    return (await locate(contextOf(site), getLabel(site.name, kind)))?.state === 'running';
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

  async getCaveats(site) {
    const ctx = contextOf(site);
    const loadedIn: Partial<Record<JobKind, string | null>> = {};
    for (const kind of ['sync', 'server'] as const) {
      loadedIn[kind] = (await locate(ctx, getLabel(site.name, kind)))?.domain ?? null;
    }
    const guiExists = Object.values(loadedIn).includes(domains().user) ? await hasGuiDomain() : true;
    return describeDomains(loadedIn, process.getuid?.() ?? 0, guiExists, ctx.install);
  },

  async status(site, specs) {
    const ctx = contextOf(site);
    const { renderAgentText } = await getRenderer();
    const one = async (spec: JobSpec): Promise<JobStatus> => {
      const installed = readTextOrNull(getAgentPath(spec.label));
      let current = false;
      try {
        current = installed !== null && installed === renderAgentText(spec);
      } catch {
        // a spec that cannot be rendered is not what is installed
      }
      let state: Loaded | null;
      try {
        state = await locate(ctx, spec.label);
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
    const ctx = contextOf(site);
    let firstError: unknown = null;
    for (const kind of ['sync', 'server'] as const) {
      const label = getLabel(site.name, kind);
      try {
        const state = await locate(ctx, label);
        if (state) await bootout(ctx, state.domain, label);
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
