/**
 * The server agent's state (DESIGN §9): two slot servers, which one is live, the requests
 * and websockets each is serving, and the crash restarts of the live one. The front door
 * asks it where to send a request; the control API asks it to start, switch and stop.
 */
import type { Duplex } from 'node:stream';
import type { Site } from '../site/config.js';
import { SLOTS, type Slot } from '../site/paths.js';
import { appendLogLine, formatLocalTime, rotateIfLarge } from '../os/log.js';
import { readJsonOrNull, writeFileAtomic } from '../os/fs.js';
import { sleep } from '../os/exec.js';
import type { ChildExit } from '../os/child.js';
import { probeHttp, isHealthyStatus } from '../os/http.js';
import { SlotServer, describeExit } from './slot-server.js';
import { endLeftoverServers } from './leftovers.js';
import { readLiveLink, writeLiveLink } from '../site/live-link.js';
import { describeError } from '../errors.js';
import type { AgentStatus, GateResult } from './protocol.js';

/** How long the live server gets to answer a status probe before it counts as busy. */
const LIVE_PROBE_MS = 5000;
/** A switched-away server finishes its requests for at most this long (DESIGN §3 step 11). */
const DRAIN_MS = 10_000;
const BACKOFF_MAX_S = 60;
/** A server that stayed up this long crashed for a new reason: its backoff starts again at 1 s. */
const STABLE_MS = 60_000;

export interface LiveTarget {
  slot: Slot;
  port: number;
}

export class ServerAgent {
  readonly slots: Record<Slot, SlotServer>;
  live: Slot | null = null;
  closing = false;
  private readonly waiters = new Set<() => void>();
  private readonly inflight: Record<Slot, number> = { a: 0, b: 0 };
  private readonly sockets: Record<Slot, Set<Duplex>> = { a: new Set(), b: new Set() };
  private readonly locks: Record<Slot, Promise<unknown>> = { a: Promise.resolve(), b: Promise.resolve() };
  private crashTimer: NodeJS.Timeout | null = null;
  private crashStreak = 0;
  private healthySince = 0;
  private logLines = 0;

  /**
   * `getSite`: the site as the agent started (its host and port are bound). `getSlotSite`:
   * read again for each slot start, so a new command or Node pin reaches the next server.
   */
  constructor(
    private readonly getSite: () => Site,
    readonly controlSocket: string,
    getSlotSite: () => Site = getSite,
  ) {
    const site = getSite();
    const events = {
      line: (slot: Slot, sha: string | null, line: string) =>
        this.log(`[${slot} ${sha ? sha.slice(0, 7) : '-------'}] ${line}`),
      exit: (server: SlotServer, exit: ChildExit, expected: boolean) => this.onExit(server, exit, expected),
    };
    this.slots = {
      a: new SlotServer('a', site.paths.slots.a, getSlotSite, events),
      b: new SlotServer('b', site.paths.slots.b, getSlotSite, events),
    };
  }

  get site(): Site {
    return this.getSite();
  }

  /** Also told every line of server.log: `run` in a terminal follows the log this way. */
  echo: ((line: string) => void) | null = null;

  log(line: string): void {
    const file = this.site.paths.serverLog;
    // Checked every few hundred lines, not per line: a stat per line of dev-server output buys nothing.
    if (this.logLines++ % 200 === 0) rotateIfLarge(file);
    appendLogLine(file, line);
    this.echo?.(line);
  }

  /** One operation per slot at a time: a start, a stop and a crash restart never overlap. */
  private withSlot<T>(slot: Slot, fn: () => Promise<T>): Promise<T> {
    const next = this.locks[slot].then(fn, fn);
    this.locks[slot] = next.catch(() => undefined);
    return next;
  }

  /** The live slot's server, when it passed its gate and still runs. */
  getLive(): LiveTarget | null {
    if (!this.live) return null;
    const s = this.slots[this.live];
    return s.phase === 'healthy' && s.port !== null ? { slot: this.live, port: s.port } : null;
  }

  /** Waits up to ms for a healthy live server (DESIGN §9: requests wait, then 503). */
  async waitForLive(ms: number): Promise<LiveTarget | null> {
    const deadline = Date.now() + ms;
    for (;;) {
      const live = this.getLive();
      if (live || this.closing) return live;
      const left = deadline - Date.now();
      if (left <= 0) return null;
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          this.waiters.delete(done);
          resolve();
        };
        const timer = setTimeout(done, left);
        this.waiters.add(done);
      });
    }
  }

  private notify(): void {
    for (const w of [...this.waiters]) w();
    this.writeState();
  }

  beginRequest(slot: Slot): () => void {
    this.inflight[slot]++;
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      this.inflight[slot]--;
    };
  }

  trackSocket(slot: Slot, socket: Duplex): void {
    this.sockets[slot].add(socket);
    socket.once('close', () => this.sockets[slot].delete(socket));
  }

  /** On start: end dev servers a killed agent left behind, then serve the slot the link names. */
  /**
   * The live slot (and `starting`) from the link, before either socket answers: a sync asking
   * early must never take the live slot for the standby.
   */
  init(): void {
    // What the previous agent recorded, read before this one writes its own: its leftovers.
    this.previous = readJsonOrNull<AgentStatus>(this.site.paths.serverState);
    this.live = this.readLink();
    if (this.live) this.slots[this.live].phase = 'starting';
    this.writeState();
  }

  async boot(): Promise<void> {
    const live = this.live;
    await this.endLeftovers();
    if (!live) {
      this.log('[agent] no live slot yet: waiting for the sync to prepare one');
      return;
    }
    this.log(`[agent] serving slot ${live}`);
    void this.restartLive('start');
  }

  private previous: AgentStatus | null = null;

  private async endLeftovers(): Promise<void> {
    for (const line of await endLeftoverServers(this.site.paths, this.previous)) this.log(`[agent] ${line}`);
  }

  /** The slot localhost-worktree points at; null when it is missing or a first-release folder. */
  readLink(): Slot | null {
    const state = readLiveLink(this.site.paths, this.site.config.repo);
    return state.kind === 'slot' ? state.slot : null;
  }

  /** POST /slots/<slot>/start: the standby's server, through the gate. */
  startStandby(slot: Slot, sha: string | null): Promise<GateResult> {
    if (slot === this.live) {
      return Promise.resolve({
        ok: false,
        reason: `slot ${slot} is live`,
        blame: 'environment',
        sha: null,
        port: null,
      });
    }
    return this.withSlot(slot, async () => {
      const s = this.slots[slot];
      s.restarts = 0;
      this.log(`[agent] starting slot ${slot} at ${sha?.slice(0, 7) ?? 'its HEAD'}`);
      const result = await s.start(sha);
      this.log(`[agent] slot ${slot}: ${result.ok ? 'healthy' : 'failed'}: ${result.reason}`);
      this.writeState();
      return result;
    });
  }

  /** POST /switch: new requests go to slot at once; the old server drains, then stops. */
  switchTo(slot: Slot): { ok: boolean; reason: string } {
    const s = this.slots[slot];
    if (slot === this.live && s.phase === 'healthy') return { ok: true, reason: `slot ${slot} is already live` };
    if (s.phase !== 'healthy') return { ok: false, reason: `slot ${slot} is ${s.phase}, not healthy` };
    const old = this.live;
    this.live = slot;
    this.crashStreak = 0;
    this.healthySince = Date.now();
    this.clearCrashTimer();
    writeLiveLink(this.site.paths, slot);
    this.log(`[agent] switched to slot ${slot} (${s.sha?.slice(0, 7)})${old ? `; draining slot ${old}` : ''}`);
    this.notify();
    if (old && old !== slot) void this.retire(old);
    return { ok: true, reason: `slot ${slot} is live` };
  }

  /** An old live slot: websockets closed now (the page reloads onto the new main), requests drained. */
  private retire(slot: Slot): Promise<void> {
    for (const socket of this.sockets[slot]) socket.destroy();
    return this.withSlot(slot, async () => {
      const deadline = Date.now() + DRAIN_MS;
      while (this.inflight[slot] > 0 && Date.now() < deadline) await sleep(50);
      if (this.live !== slot) await this.slots[slot].stop();
      this.writeState();
    });
  }

  /** POST /slots/<slot>/stop: the standby only; the live slot keeps serving. */
  stopStandby(slot: Slot): Promise<{ ok: boolean; reason: string }> {
    if (slot === this.live) return Promise.resolve({ ok: false, reason: `slot ${slot} is live` });
    return this.withSlot(slot, async () => {
      await this.slots[slot].stop();
      this.writeState();
      return { ok: true, reason: `slot ${slot} is stopped` };
    });
  }

  /** (Re)starts the live slot's server in place: after a crash, at boot, or when asked. */
  restartLive(why: 'start' | 'crash' | 'request'): Promise<GateResult> {
    const slot = this.live;
    if (!slot)
      return Promise.resolve({ ok: false, reason: 'no slot is live yet', blame: 'environment', sha: null, port: null });
    this.clearCrashTimer();
    return this.withSlot(slot, async () => {
      const s = this.slots[slot];
      if (why !== 'crash') s.restarts = 0;
      // A start that throws (the disk, git) is a failed start: it is retried like a crash.
      const result = await s.start(null).catch((err: unknown): GateResult => ({
        ok: false,
        reason: describeError(err),
        blame: 'environment',
        sha: null,
        port: null,
      }));
      this.log(
        `[agent] slot ${slot} ${why === 'crash' ? 'restarted' : 'started'}: ${result.ok ? 'healthy' : `failed: ${result.reason}`}`,
      );
      if (result.ok) this.healthySince = Date.now();
      else if (this.live === slot && !this.closing) this.scheduleCrashRestart(s);
      this.notify();
      return result;
    });
  }

  private onExit(server: SlotServer, exit: ChildExit, expected: boolean): void {
    // A server that dies during its gate is the gate's to report; a stopped one was meant to stop.
    if (expected || this.closing || server.phase === 'starting') return;
    server.phase = server.slot === this.live ? 'crashed' : 'failed';
    server.lastError = `the dev server exited with ${describeExit(exit)}`;
    this.notify();
    if (server.slot !== this.live) return;
    if (Date.now() - this.healthySince > STABLE_MS) this.crashStreak = 0;
    this.scheduleCrashRestart(server);
  }

  /** 1 s, then 2, 4 … 60 s while it keeps failing (DESIGN §9). */
  private scheduleCrashRestart(server: SlotServer): void {
    this.clearCrashTimer();
    const delay = Math.min(BACKOFF_MAX_S, 2 ** this.crashStreak) * 1000;
    this.crashStreak++;
    server.restarts++;
    this.log(`[agent] restarting slot ${server.slot} in ${delay / 1000} s (restart ${server.restarts})`);
    this.crashTimer = setTimeout(() => {
      this.crashTimer = null;
      if (this.live === server.slot && !this.closing) void this.restartLive('crash');
    }, delay);
    this.crashTimer.unref?.();
  }

  private clearCrashTimer(): void {
    if (this.crashTimer) clearTimeout(this.crashTimer);
    this.crashTimer = null;
  }

  /** A crash restart is waiting out its pause: the status page says so. */
  get crashRestartPending(): boolean {
    return this.crashTimer !== null;
  }

  /** GET /status; `probe` also asks the live server for its health path now. */
  async status(probe = false): Promise<AgentStatus> {
    const live = this.getLive();
    if (!probe || !live) return this.snapshot(null);
    const r = await probeHttp('127.0.0.1', live.port, this.site.config.healthPath, LIVE_PROBE_MS);
    // No answer in time from a server that passed its gate and still runs is a busy server
    // (Next compiling on 2 cores took 1.5–3.6 s), not a dead one: unknown, not false.
    const timedOut = r.status === null && (r.error ?? '').startsWith('no answer within');
    return this.snapshot(timedOut ? null : isHealthyStatus(r.status));
  }

  snapshot(liveAnswers: boolean | null): AgentStatus {
    const { config } = this.site;
    return {
      schemaVersion: 1,
      pid: process.pid,
      host: config.host,
      port: config.port,
      live: this.live,
      liveAnswers,
      controlSocket: this.controlSocket,
      slots: { a: this.slots.a.state(), b: this.slots.b.state() },
      updatedAt: formatLocalTime(),
    };
  }

  writeState(): void {
    try {
      writeFileAtomic(this.site.paths.serverState, JSON.stringify(this.snapshot(null), null, 2) + '\n');
    } catch {
      // the site folder is being removed (uninstall --purge)
    }
  }

  /** SIGTERM: both dev servers end (their own process groups) before the agent exits. */
  async shutdown(): Promise<void> {
    this.closing = true;
    this.clearCrashTimer();
    for (const w of [...this.waiters]) w();
    await Promise.all(SLOTS.map((slot) => this.slots[slot].stop(3000)));
    this.writeState();
  }
}
