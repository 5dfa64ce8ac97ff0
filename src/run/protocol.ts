/**
 * What the server agent and its clients (the sync, the small commands, doctor) say to each
 * other over run/control.sock, and what run/server.json holds. Plain data, no behaviour.
 */
import type { Slot } from '../site/paths.js';

/** stopped → starting → healthy; a start that fails is `failed`, a live server that dies `crashed`. */
export type SlotPhase = 'stopped' | 'starting' | 'healthy' | 'failed' | 'crashed';

/** Whose fault a failed start is (DESIGN §3: only the commit's own failure holds main back). */
export type Blame = 'commit' | 'command' | 'environment';

export interface SlotState {
  slot: Slot;
  phase: SlotPhase;
  /** The commit the server was started from (the slot's HEAD at that moment). */
  sha: string | null;
  /** The inner loopback port the server was given. */
  port: number | null;
  pid: number | null;
  startedAt: string | null;
  /** How many times the agent restarted it after a crash since it was last started on purpose. */
  restarts: number;
  lastError: string | null;
  /** Whose fault lastError is. */
  lastBlame: Blame | null;
  /** The command as a person would type it (never the environment). */
  command: string | null;
  framework: string | null;
}

export interface AgentStatus {
  schemaVersion: 1;
  pid: number;
  host: string;
  port: number;
  live: Slot | null;
  /** The live server answered a fresh probe below 500 (only when the status asked to probe). */
  liveAnswers: boolean | null;
  controlSocket: string;
  slots: Record<Slot, SlotState>;
  updatedAt: string;
}

export interface GateResult {
  ok: boolean;
  reason: string;
  blame: Blame | null;
  sha: string | null;
  port: number | null;
}

export function isLiveHealthy(status: AgentStatus | null): boolean {
  return status !== null && status.live !== null && status.slots[status.live].phase === 'healthy';
}
