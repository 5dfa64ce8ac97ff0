/**
 * One slot's dev server: started on a free loopback port as a child of the agent, in its
 * own process group, and health-gated (DESIGN §3 step 10): it answers below 500 on the port
 * it was given, from the process that was started or one of its descendants.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Site } from '../site/config.js';
import type { Slot } from '../site/paths.js';
import { formatLocalTime } from '../os/log.js';
import { startChild, type Child, type ChildExit } from '../os/child.js';
import { sleep } from '../os/exec.js';
import { getMirrorHead } from '../os/git.js';
import { readTextOrNull } from '../os/fs.js';
import { probeHttp } from '../os/http.js';
import { getFreePort, getTreeListeners } from '../os/listeners.js';
import { readDepsStamp } from '../runtime/deps.js';
import { getNodeFor } from '../runtime/pinned-node.js';
import { describeWithFix } from '../errors.js';
import { buildDevCommand } from './dev-command.js';
import { judgeGate } from './gate.js';
import type { Blame, GateResult, SlotPhase, SlotState } from './protocol.js';

const INNER_HOST = '127.0.0.1';
const ANSI = /\x1b\[[0-9;?]*[ -/]*[@-~]/g;
const TAIL_LINES = 40;

export interface SlotEvents {
  line(slot: Slot, sha: string | null, line: string): void;
  exit(slot: SlotServer, exit: ChildExit, expected: boolean): void;
}

export class SlotServer {
  phase: SlotPhase = 'stopped';
  sha: string | null = null;
  port: number | null = null;
  startedAt: string | null = null;
  lastError: string | null = null;
  lastBlame: Blame | null = null;
  restarts = 0;
  command: string | null = null;
  framework: string | null = null;
  private suggestion = '';
  readonly tail: string[] = [];
  private child: Child | null = null;
  private stopping = false;
  /** Bumped by every start and stop, so a gate that lost the race gives up quietly. */
  private generation = 0;

  constructor(
    readonly slot: Slot,
    readonly dir: string,
    private readonly site: () => Site,
    private readonly events: SlotEvents,
  ) {}

  get pid(): number | null {
    return this.child?.pid ?? null;
  }

  state(): SlotState {
    const { slot, phase, sha, port, startedAt, restarts, lastError, lastBlame, command, framework } = this;
    return { slot, phase, sha, port, pid: this.pid, startedAt, restarts, lastError, lastBlame, command, framework };
  }

  private note(raw: string): void {
    // Some dev servers colour their errors despite NO_COLOR (Next's compile errors do).
    const line = raw.replace(ANSI, '');
    if (!line.trim()) return; // npm's blank lines say nothing, in the log or on the status page
    this.tail.push(line);
    if (this.tail.length > TAIL_LINES) this.tail.splice(0, this.tail.length - TAIL_LINES);
    this.events.line(this.slot, this.sha, line);
  }

  private fail(reason: string, blame: Blame): GateResult {
    this.phase = 'failed';
    this.lastError = reason;
    this.lastBlame = blame;
    return { ok: false, reason, blame, sha: this.sha, port: this.port };
  }

  /**
   * Starts the slot's server and waits for the gate. `expectSha`: the commit the caller
   * prepared. A free port can be taken by another program between our pick and the server's
   * bind; that start is tried once more on a fresh port before anyone is blamed.
   */
  async start(expectSha: string | null): Promise<GateResult> {
    const first = await this.startOnce(expectSha);
    if (first.ok || !first.reason.startsWith('another program answers on the inner port')) return first;
    this.note(`[localhost-ops] ${first.reason}; starting again on a fresh port`);
    return this.startOnce(expectSha);
  }

  private async startOnce(expectSha: string | null): Promise<GateResult> {
    await this.stop();
    const generation = ++this.generation;
    const { config } = this.site();
    this.phase = 'starting';
    this.lastError = null;
    this.lastBlame = null;
    this.tail.length = 0;
    if (!existsSync(join(this.dir, '.git'))) {
      return this.fail(`slot ${this.slot} is missing (${this.dir}); the next sync recreates it`, 'environment');
    }
    const head = await getMirrorHead(this.dir).then(
      (h) => h.head,
      () => null,
    );
    this.sha = head;
    if (!head) return this.fail(`slot ${this.slot} has no commit checked out`, 'environment');
    if (expectSha && head !== expectSha) {
      return this.fail(`slot ${this.slot} is at ${head.slice(0, 7)}, not ${expectSha.slice(0, 7)}`, 'environment');
    }
    const pkg = readTextOrNull(join(this.dir, 'package.json'));
    const stamp = readDepsStamp(this.dir);
    if (pkg !== null && stamp === null) {
      // A slot recreated (or whose npm ci was cut short) has no dependencies: its server could
      // only crash. The sync installs them before it starts the slot again.
      return this.fail(`slot ${this.slot} has no dependencies installed; the next sync installs them`, 'environment');
    }
    let node;
    try {
      node = (await getNodeFor(config, pkg, stamp)).node;
    } catch (err) {
      return this.fail(describeWithFix(err), 'environment');
    }
    this.port = await getFreePort(INNER_HOST);
    const built = buildDevCommand(config.command, pkg, node, INNER_HOST, this.port);
    if (!built.ok) return this.fail(`${built.reason}, so there is no dev server to start`, 'command');
    const { command } = built;
    this.command = command.display;
    this.framework = command.framework;
    this.suggestion = command.suggestion;
    this.startedAt = formatLocalTime();
    this.note(`[localhost-ops] starting "${command.display}" on ${INNER_HOST}:${this.port} under Node ${node.version}`);
    this.stopping = false;
    const child = startChild(command.file, command.args, {
      cwd: this.dir,
      env: command.env,
      onLine: (line) => this.note(line),
    });
    this.child = child;
    let exit: ChildExit | null = null;
    child.exited.then((e) => {
      exit = e;
      if (this.child !== child) return;
      this.child = null;
      const expected = this.stopping;
      if (!expected) this.note(`[localhost-ops] the dev server exited with ${describeExit(e)}`);
      this.events.exit(this, e, expected);
    });
    const result = await this.gate(child, () => exit, generation);
    if (result.ok) {
      this.phase = 'healthy';
    } else if (generation === this.generation) {
      await this.stop();
      this.phase = 'failed';
    }
    return result;
  }

  private async gate(child: Child, exited: () => ChildExit | null, generation: number): Promise<GateResult> {
    const { config } = this.site();
    const port = this.port as number;
    const deadline = Date.now() + config.healthTimeout * 1000;
    const settings = {
      healthPath: config.healthPath,
      healthTimeoutS: config.healthTimeout,
      suggestion: this.suggestion,
    };
    let erroringSince: number | null = null;
    let elsewhereSince: number | null = null;
    for (;;) {
      if (generation !== this.generation) return this.fail('stopped before it answered', 'environment');
      const exit = exited();
      // The gate request is a real page view: it also warms the page for the first visitor.
      const probe = exit
        ? { status: null, error: null }
        : await probeHttp(INNER_HOST, port, config.healthPath, Math.max(200, Math.min(5000, deadline - Date.now())));
      const own = exit ? [] : await getTreeListeners(child.pid);
      const now = Date.now();
      erroringSince = probe.status !== null && probe.status >= 500 ? (erroringSince ?? now) : null;
      // Refused while its own tree listens somewhere: judgeGate decides whether that is elsewhere.
      elsewhereSince = probe.status === null && (own?.length ?? 0) > 0 ? (elsewhereSince ?? now) : null;
      const verdict = judgeGate(
        {
          port,
          exit: exit ? describeExit(exit) : null,
          tail: this.tail.filter((l) => !l.startsWith('[localhost-ops]')),
          status: probe.status,
          probeError: probe.error,
          own,
          erroringMs: erroringSince === null ? null : now - erroringSince,
          elsewhereMs: elsewhereSince === null ? null : now - elsewhereSince,
          pastDeadline: now >= deadline,
        },
        settings,
      );
      if (verdict.kind === 'pass') return { ok: true, reason: verdict.reason, blame: null, sha: this.sha, port };
      if (verdict.kind === 'fail') return this.fail(verdict.reason, verdict.blame);
      await sleep(probe.status === null ? 150 : 400);
    }
  }

  /** Ends the server's whole process group; waits for it. */
  async stop(graceMs = 5000): Promise<void> {
    this.generation++;
    const child = this.child;
    if (!child) {
      if (this.phase !== 'failed' && this.phase !== 'crashed') this.phase = 'stopped';
      return;
    }
    this.stopping = true;
    await child.stop(graceMs);
    await child.exited;
    if (this.child === child) this.child = null;
    this.phase = 'stopped';
  }

  /** Is its process still there? (A server killed from outside is noticed by its exit event too.) */
  isRunning(): boolean {
    return this.child !== null;
  }
}

export function describeExit(e: ChildExit): string {
  return e.signal ? `signal ${e.signal}` : `exit code ${e.code ?? '?'}`;
}
