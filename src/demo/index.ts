/**
 * `demo` (DESIGN §12): the tool at work on a machine with no site of its own. It makes a
 * sample forge, upstream and canonical clone under <ops home>/.demo/ and installs the
 * canonical clone as site `demo` through the command line (nothing imports install/), on
 * 4321 or the next free port. `--merge TEXT` merges a pull request that shows TEXT and
 * wakes the sync agent; `--break` merges a main whose server crashes at start, which the
 * sync holds back; `--remove` removes the site and everything the demo made.
 */
import { existsSync, rmSync, rmdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { OpsError, UserError, oneLine } from '../errors.js';
import { run } from '../os/exec.js';
import { readTextOrNull } from '../os/fs.js';
import { formatUrl, isHealthyStatus, probeHttp } from '../os/http.js';
import { getFreePort, isInside, isPortFree } from '../os/listeners.js';
import { pollUntil } from '../os/poll.js';
import { type SiteConfig } from '../site/config.js';
import { readSyncRecord, short, type SyncRecord } from '../site/last-sync.js';
import { getSitePaths, getToolEntry, tildify, type SitePaths } from '../site/paths.js';
import { listSiteNames, readSiteConfigOrNull } from '../site/store.js';
import { createProgress, type Progress } from '../ui/progress.js';
import { DEMO_SITE, countCommits, createDemoRepos, fetchInto, getDemoPaths, mergeIntoMain } from './forge.js';
import { getSiteFiles } from './site.js';

export interface DemoFlags {
  merge?: string;
  break?: boolean;
  remove?: boolean;
  /** Hidden: the port to try first (default 4321), for tests that may not take a fixed one. */
  port?: string;
}

const DEFAULT_PORT = 4321;
/** How many ports after the preferred one are tried before the kernel picks one. */
const PORT_SEARCH = 100;
const MAX_TEXT = 500;
/** A first install runs npm ci; a merge may too (the standby slot's first preparation). */
const INSTALL_TIMEOUT_MS = 10 * 60_000;
const SYNC_TIMEOUT_MS = 5 * 60_000;
/** When the sync agent has not taken up a merge by then, the demo runs the sync itself. */
const AGENT_GRACE_MS = 15_000;

const say = (lines: string[]) => process.stdout.write(lines.join('\n') + '\n');
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

export async function demoCommand(flags: DemoFlags): Promise<number> {
  const modes = [flags.merge !== undefined, flags.break === true, flags.remove === true].filter(Boolean).length;
  if (modes > 1) {
    throw new UserError('Pass one of --merge, --break and --remove at a time.', 'Run localhost-ops demo --help.');
  }
  if (flags.port !== undefined && modes > 0) {
    throw new UserError('--port only chooses where a new demo serves.', 'Run localhost-ops demo --port N alone.');
  }
  if (flags.merge !== undefined) return mergeCommand(verifyText(flags.merge));
  if (flags.break) return breakCommand();
  if (flags.remove) return removeCommand();
  return setUpCommand(parsePort(flags.port));
}

function verifyText(text: unknown): string {
  if (typeof text !== 'string' || text.trim() === '') {
    throw new UserError('--merge needs the text the page should show.', 'Run localhost-ops demo --merge "Hello".');
  }
  if (text.length > MAX_TEXT) {
    throw new UserError(
      `The text for --merge is ${text.length} characters long; the demo takes at most ${MAX_TEXT}.`,
      'Pass a shorter text.',
    );
  }
  return text;
}

function parsePort(text: string | undefined): number {
  if (text === undefined) return DEFAULT_PORT;
  const port = Number(text);
  if (!/^\d+$/.test(text) || port < 1 || port > 65535) {
    throw new UserError(`--port must be a whole number from 1 to 65535, not "${text}".`, 'Pass --port 4321.');
  }
  return port;
}

// ------------------------------------------------------------------ which demo there is

interface DemoState {
  /** The site named demo, installed from the demo's canonical clone (any other is refused). */
  config: SiteConfig | null;
  /** The forge, upstream and canonical clone were all made (the marker is written last). */
  made: boolean;
}

function readDemoState(): DemoState {
  const demo = getDemoPaths();
  const config = readSiteConfigOrNull(DEMO_SITE);
  const ours = config !== null && isInside(config.repo, demo.root);
  if (config === null && existsSync(getSitePaths(DEMO_SITE).config)) {
    throw new UserError(
      `${tildify(getSitePaths(DEMO_SITE).config)} cannot be read, so the demo cannot tell whose site "demo" is.`,
      'Run localhost-ops uninstall --name demo --purge, then localhost-ops demo again.',
    );
  }
  if (config !== null && !ours) {
    throw new UserError(
      `A site named "demo" is already installed from ${tildify(config.repo)}, which the demo did not make.`,
      'Leave it be, or run localhost-ops uninstall --name demo --purge first if you no longer need it.',
    );
  }
  return { config, made: existsSync(demo.marker) && existsSync(demo.canonical) };
}

/** The installed demo, serving; otherwise the sentence that says what to run. */
async function requireRunningDemo(): Promise<SiteConfig> {
  const state = readDemoState();
  const config = state.config;
  if (!config || !state.made || config.uninstalled) {
    throw new UserError('The demo is not set up.', 'Run localhost-ops demo first.');
  }
  if (config.paused) {
    throw new UserError(
      'The demo is paused, so its sync agent would not pick up a merge.',
      'Run localhost-ops resume --name demo first.',
    );
  }
  if (!(await isServing(config))) {
    throw new OpsError(
      `The demo is not serving at ${urlOf(config)}: its jobs are not running.`,
      'Run localhost-ops demo to start them again.',
    );
  }
  return config;
}

const urlOf = (config: SiteConfig) => formatUrl(config.host, config.port, '/');

async function isServing(config: SiteConfig): Promise<boolean> {
  return isHealthyStatus((await probeHttp(config.host, config.port, '/', 3000)).status);
}

// ------------------------------------------------------------------ demo

const TRY_NEXT = [
  'Try next:',
  '  localhost-ops demo --merge "Hello"   merge a pull request: the page shows it within seconds',
  '  localhost-ops demo --break           merge a main whose server crashes: the page keeps serving',
  '  localhost-ops doctor --name demo     what is wrong, and the command that fixes it',
  '  localhost-ops demo --remove          remove the demo, its jobs and everything it made',
];

async function setUpCommand(preferredPort: number): Promise<number> {
  const started = Date.now();
  const demo = getDemoPaths();
  const state = readDemoState();
  if (state.config && state.made && !state.config.uninstalled && (await isServing(state.config))) {
    const rec = readSyncRecord(getSitePaths(DEMO_SITE).lastSync);
    say([
      `The demo is already set up: ${urlOf(state.config)} serves main${rec?.sha ? ` ${short(rec.sha)}` : ''}.`,
      '',
      ...TRY_NEXT,
    ]);
    return 0;
  }
  const progress = await createProgress('making the sample site');
  try {
    const notes: string[] = [];
    if (state.config && !state.made) {
      // The repositories went missing under an installed demo: start over from nothing.
      progress.update('removing a demo whose repositories are gone');
      await uninstallDemo();
      state.config = null;
    }
    if (!state.made) {
      progress.update('making the sample forge, upstream and canonical clone');
      await createDemoRepos(demo);
      notes.push(
        `Made a sample site under ${tildify(demo.root)}: a forge, an upstream clone and your canonical clone.`,
      );
    } else if (state.config?.uninstalled) {
      notes.push('The demo was uninstalled: installing it again.');
    } else if (state.config) {
      notes.push('The demo is set up but was not serving: starting its jobs again.');
    }
    // An installed demo keeps its port (install checks it); a new or uninstalled one looks for a free one.
    const wanted = state.config?.port ?? preferredPort;
    const port = state.config && !state.config.uninstalled ? wanted : await pickPort(wanted);
    if (port !== wanted) notes.push(`Port ${wanted} is busy, so the demo serves on port ${port}.`);
    progress.update(`installing site "demo" on port ${port} (npm ci, first sync)`);
    const args = [
      'install',
      '--repo',
      demo.canonical,
      '--name',
      DEMO_SITE,
      '--port',
      String(port),
      '--service',
      'auto',
    ];
    const r = await run(process.execPath, [getToolEntry(), ...args], {
      allowFail: true,
      timeoutMs: INSTALL_TIMEOUT_MS,
    });
    progress.stop();
    const config = readSiteConfigOrNull(DEMO_SITE);
    if (r.code !== 0 || !config || !(await isServing(config))) {
      process.stdout.write(r.stdout);
      process.stderr.write(r.stderr);
      say([
        '',
        'The demo could not be set up (install said so above).',
        'Run localhost-ops doctor --name demo to see why, and localhost-ops demo --remove to start over.',
      ]);
      return r.code === 0 ? 1 : r.code;
    }
    const rec = readSyncRecord(getSitePaths(DEMO_SITE).lastSync);
    say([
      ...notes,
      `Installed it as site "demo" (${config.service} backend) in ${seconds(Date.now() - started)}.`,
      '',
      `  Open ${urlOf(config)}  main ${short(rec?.sha)} is serving`,
      '',
      ...TRY_NEXT,
    ]);
    return 0;
  } finally {
    progress.stop();
  }
}

/** The preferred port, or the next one that is free and no other site uses; the kernel's pick past that. */
async function pickPort(preferred: number): Promise<number> {
  const used = new Set<number>();
  for (const name of listSiteNames()) {
    const config = name === DEMO_SITE ? null : readSiteConfigOrNull(name);
    if (config) used.add(config.port);
  }
  for (let port = preferred; port <= Math.min(65535, preferred + PORT_SEARCH); port++) {
    if (used.has(port)) continue;
    try {
      if (await isPortFree('127.0.0.1', port)) return port;
    } catch {
      // not ours to take (below 1024, say): try the next
    }
  }
  return getFreePort('127.0.0.1');
}

// ------------------------------------------------------------------ --merge and --break

/** A one-line subject that quotes the text: what status and the page show. */
function quoteForSubject(text: string): string {
  return `“${oneLine(text, 60)}”`;
}

async function mergeCommand(text: string): Promise<number> {
  const config = await requireRunningDemo();
  const demo = getDemoPaths();
  const paths = getSitePaths(DEMO_SITE);
  const number = (await countCommits(demo)) + 1;
  const pushed = Date.now();
  const sha = await mergeIntoMain(
    demo,
    getSiteFiles(text),
    `Merge pull request #${number}: show ${quoteForSubject(text)}`,
    'Merged by localhost-ops demo --merge.',
  );
  process.stdout.write(`Merged pull request #${number} into main as ${short(sha)}; waiting for the sync…\n`);
  const rec = await waitForSync(
    config,
    paths,
    sha,
    (r) => r.sha === sha && (r.status === 'updated' || r.status === 'noop'),
  );
  if (rec.sha !== sha) {
    throw new OpsError(
      `The sync did not serve ${short(sha)}: ${rec.message}`,
      'Run localhost-ops doctor --name demo to see why.',
    );
  }
  say([
    `${urlOf(config)} serves ${short(sha)} ${seconds(Date.now() - pushed)} after the merge: the page shows the new text.`,
  ]);
  return 0;
}

async function breakCommand(): Promise<number> {
  const config = await requireRunningDemo();
  const demo = getDemoPaths();
  const paths = getSitePaths(DEMO_SITE);
  const number = (await countCommits(demo)) + 1;
  const current = readSyncRecord(paths.lastSync);
  const good = current?.sha ?? '';
  // The text stays what it is; only server.js gains a line that fails at start.
  const message = (readTextOrNull(join(demo.upstream, 'message.txt')) ?? '').replace(/\n$/, '');
  const pushed = Date.now();
  const sha = await mergeIntoMain(
    demo,
    getSiteFiles(message, true),
    `Merge pull request #${number}: read settings.json at start`,
    'Merged by localhost-ops demo --break: settings.json was never committed, so the server exits at start.',
  );
  process.stdout.write(
    `Merged pull request #${number} into main as ${short(sha)}: its server crashes at start. Waiting for the sync…\n`,
  );
  const rec = await waitForSync(config, paths, sha, (r) => r.targetSha === sha && r.status !== 'noop');
  if (rec.status !== 'rolled-back') {
    throw new OpsError(
      `The sync did not hold ${short(sha)} back (status ${rec.status}): ${rec.message}`,
      'Run localhost-ops doctor --name demo to see why.',
    );
  }
  const serving = await isServing(config);
  say([
    serving
      ? `The sync held ${short(sha)} back after ${seconds(Date.now() - pushed)}, and ${urlOf(config)} still serves the last good main, ${short(rec.sha || good)}.`
      : `The sync held ${short(sha)} back after ${seconds(Date.now() - pushed)}, but ${urlOf(config)} does not answer right now.`,
    `  sync: ${rec.message}`,
    '',
    'Next:',
    '  localhost-ops doctor --name demo     explains what happened and what to do',
    '  localhost-ops demo --merge "Fixed"   merge a fix: the page shows it within seconds',
  ]);
  return serving ? 0 : 1;
}

/**
 * Wakes the sync agent by fetching into the canonical clone (it watches the ref; every
 * backend), then waits until last-sync.env says `done`. Should the agent not take the
 * merge up (its job is gone), the demo runs the sync itself.
 */
async function waitForSync(
  config: SiteConfig,
  paths: SitePaths,
  sha: string,
  done: (rec: SyncRecord) => boolean,
): Promise<SyncRecord> {
  const progress: Progress = await createProgress('waiting for the sync agent');
  try {
    await fetchInto(config.repo, config.remote, config.branch);
    const seen = () => {
      const rec = readSyncRecord(paths.lastSync);
      return rec !== null && rec.targetSha === sha;
    };
    if (!(await pollUntil(seen, AGENT_GRACE_MS, 100))) {
      progress.update('the sync agent did not answer: syncing here');
      process.stderr.write('The sync agent did not take the merge up within 15 s; syncing here instead.\n');
      await run(process.execPath, [getToolEntry(), 'sync', '--name', DEMO_SITE], {
        allowFail: true,
        timeoutMs: SYNC_TIMEOUT_MS,
      });
    }
    let last: SyncRecord | null = null;
    const finished = await pollUntil(
      () => {
        last = readSyncRecord(paths.lastSync);
        if (last === null || last.targetSha !== sha) return false;
        return done(last) || last.status === 'error' || last.status === 'rolled-back';
      },
      SYNC_TIMEOUT_MS,
      100,
    );
    if (!finished || last === null) {
      throw new OpsError(
        `No sync finished with main ${short(sha)} within ${SYNC_TIMEOUT_MS / 60_000} minutes.`,
        'Run localhost-ops doctor --name demo to see why.',
      );
    }
    return last;
  } finally {
    progress.stop();
  }
}

// ------------------------------------------------------------------ --remove

async function uninstallDemo(): Promise<boolean> {
  if (!readSiteConfigOrNull(DEMO_SITE)) return false;
  const { uninstallCommand } = await import('../manage/uninstall.js');
  await uninstallCommand({ name: DEMO_SITE, purge: true });
  return true;
}

async function removeCommand(): Promise<number> {
  const demo = getDemoPaths();
  const state = readDemoState();
  const hadSite = state.config !== null && (await uninstallDemo());
  const hadRepos = existsSync(demo.root);
  rmSync(demo.root, { recursive: true, force: true });
  try {
    // The tool's home, when the demo was all it held.
    rmdirSync(dirname(demo.root));
  } catch {
    // other sites live there, or it is gone
  }
  if (!hadSite && !hadRepos) {
    say(['There is no demo to remove.']);
    return 0;
  }
  say([
    hadRepos
      ? `Removed ${tildify(demo.root)}: the sample forge, upstream and canonical clone.`
      : 'The sample repositories were already gone.',
    'The demo is gone; localhost-ops demo makes it again.',
  ]);
  return 0;
}
