/**
 * One slot's dev server: started on a free loopback port as a child of the agent, in its
 * own process group, and health-gated (DESIGN §3 step 10): it answers below 500 on the port
 * it was given, from the process that was started or one of its descendants.
 */
import { join } from 'node:path';
import type { Site } from '../site/config.js';
import type { Slot } from '../site/paths.js';
import { formatLocalTime } from '../os/log.js';
import { startChild, type Child, type ChildExit } from '../os/child.js';
import { sleep } from '../os/exec.js';
import { getMirrorHead } from '../os/git.js';
import { readTextOrNull } from '../os/fs.js';
import { probeHttp, isHealthyStatus } from '../os/http.js';
import { getFreePort, getTreeListeners } from '../os/listeners.js';
import { readDepsStamp } from '../runtime/deps.js';
import { getNodeFor } from '../runtime/pinned-node.js';
import { describeWithFix } from '../errors.js';
import { buildDevCommand } from './dev-command.js';
import { suggestCommand } from './frameworks.js';
import type { Blame, GateResult, SlotPhase, SlotState } from './protocol.js';

const INNER_HOST = '127.0.0.1';
const TAIL_LINES = 40;
/** A server that answers ≥ 500 for this long is a broken page, not one still compiling. */
const ERROR_GRACE_MS = 5000;
/** Listening elsewhere for this long (never on its own port) is a server on the wrong port. */
const ELSEWHERE_GRACE_MS = 1500;

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
  restarts = 0;
  command: string | null = null;
  framework: string | null = null;
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
    const { slot, phase, sha, port, startedAt, restarts, lastError, command, framework } = this;
    return { slot, phase, sha, port, pid: this.pid, startedAt, restarts, lastError, command, framework };
  }

  private note(line: string): void {
    if (!line.trim()) return; // npm's blank lines say nothing, in the log or on the status page
    this.tail.push(line);
    if (this.tail.length > TAIL_LINES) this.tail.splice(0, this.tail.length - TAIL_LINES);
    this.events.line(this.slot, this.sha, line);
  }

  private fail(reason: string, blame: Blame): GateResult {
    this.phase = 'failed';
    this.lastError = reason;
    return { ok: false, reason, blame, sha: this.sha, port: this.port };
  }

  /** Starts the slot's server and waits for the gate. `expectSha`: the commit the caller prepared. */
  async start(expectSha: string | null): Promise<GateResult> {
    await this.stop();
    const generation = ++this.generation;
    const { config } = this.site();
    this.phase = 'starting';
    this.lastError = null;
    this.tail.length = 0;
    const head = (await getMirrorHead(this.dir)).head;
    this.sha = head;
    if (!head) return this.fail(`slot ${this.slot} has no commit checked out`, 'environment');
    if (expectSha && head !== expectSha) {
      return this.fail(`slot ${this.slot} is at ${head.slice(0, 7)}, not ${expectSha.slice(0, 7)}`, 'environment');
    }
    const pkg = readTextOrNull(join(this.dir, 'package.json'));
    let node;
    try {
      node = (await getNodeFor(config, pkg, readDepsStamp(this.dir))).node;
    } catch (err) {
      return this.fail(describeWithFix(err), 'environment');
    }
    this.port = await getFreePort(INNER_HOST);
    const built = buildDevCommand(config.command, pkg, node, INNER_HOST, this.port);
    if (!built.ok) return this.fail(`${built.reason}, so there is no dev server to start`, 'command');
    const { command } = built;
    this.command = command.display;
    this.framework = command.framework;
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
    const timeoutMs = config.healthTimeout * 1000;
    const deadline = Date.now() + timeoutMs;
    let erroringSince: number | null = null;
    let elsewhereSince: number | null = null;
    for (;;) {
      if (generation !== this.generation) return this.fail('stopped before it answered', 'environment');
      const exit = exited();
      if (exit) {
        const last = this.tail
          .filter((l) => !l.startsWith('[localhost-ops]'))
          .slice(-3)
          .join(' | ');
        return this.fail(
          `the dev server exited with ${describeExit(exit)} before it answered${last ? `: ${last}` : ''}`,
          'commit',
        );
      }
      const left = deadline - Date.now();
      // The gate request is a real page view: it also warms the page for the first visitor.
      const probe = await probeHttp(INNER_HOST, port, config.healthPath, Math.max(200, Math.min(5000, left)));
      const own = await getTreeListeners(child.pid);
      const onPort = own.some((l) => l.port === port);
      if (probe.status !== null && !onPort && own.length > 0) {
        return this.fail(`another program answers on the inner port ${port}`, 'environment');
      }
      if (isHealthyStatus(probe.status) && (onPort || own.length === 0)) {
        // own.length 0 with an answer: the OS would not say who listens (lsof missing); trust the answer.
        return {
          ok: true,
          reason: `answered ${probe.status} on ${INNER_HOST}:${port}`,
          blame: null,
          sha: this.sha,
          port,
        };
      }
      if (probe.status !== null) {
        erroringSince ??= Date.now();
        if (Date.now() - erroringSince >= ERROR_GRACE_MS) {
          return this.fail(`${config.healthPath} answered ${probe.status}`, 'commit');
        }
      } else if (!onPort && own.length > 0) {
        elsewhereSince ??= Date.now();
        if (Date.now() - elsewhereSince >= ELSEWHERE_GRACE_MS) {
          const where = own.map((l) => `${l.address}:${l.port}`).join(', ');
          const fix = suggestCommand(null, 'dev');
          return this.fail(
            `the dev server listens on ${where}, not on ${INNER_HOST}:${port} where it was told to; install it with --command '${fix}' (or the flags your dev server takes)`,
            'command',
          );
        }
      } else {
        elsewhereSince = null;
      }
      if (Date.now() >= deadline) {
        const what = probe.status === null ? `did not answer (${probe.error})` : `answered ${probe.status}`;
        return this.fail(`${config.healthPath} ${what} within ${config.healthTimeout} s`, 'commit');
      }
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
