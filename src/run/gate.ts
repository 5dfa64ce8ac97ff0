/**
 * The health gate's verdict on one look at a starting dev server (DESIGN §3 step 10). Pure:
 * the caller probes, lists where the server's own process tree listens, keeps the clocks,
 * and asks this what the look means. Tested with tables.
 */
import type { Blame } from './protocol.js';

/** A server that answers ≥ 500 for this long is a broken page, not one still compiling. */
export const ERROR_GRACE_MS = 5000;
/** Listening elsewhere for this long (never on its own port) is a server on the wrong port. */
export const ELSEWHERE_GRACE_MS = 1500;

export interface GateLook {
  /** The inner port the server was given. */
  port: number;
  /** How the server's process ended, when it did. */
  exit: string | null;
  /** The server's last output lines, for an exit's reason. */
  tail: string[];
  status: number | null;
  probeError: string | null;
  /** Where the started process and its descendants listen; null when the OS would not say. */
  own: { address: string; port: number }[] | null;
  /** How long it has answered ≥ 500 / listened only elsewhere (0 on the first such look). */
  erroringMs: number | null;
  elsewhereMs: number | null;
  pastDeadline: boolean;
}

export interface GateSettings {
  healthPath: string;
  healthTimeoutS: number;
  /** The --command that would put this server where it is told. */
  suggestion: string;
}

/** Addresses whose listener answers a request to 127.0.0.1. */
const REACHES_LOOPBACK = new Set(['127.0.0.1', '0.0.0.0', '::', '::ffff:127.0.0.1', '::ffff:0.0.0.0']);

function formatHostPort(address: string, port: number): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}

/**
 * The lines that say why a server died: Node's own `Error:` line when there is one (a
 * crash ends with a stack and "Node.js v20…", which say nothing), else the last three.
 */
export function pickCause(tail: string[]): string {
  // Stack frames, Node's version line and lone brackets say nothing about the cause.
  const said = tail.filter((l) => !/^\s*at\s|^Node\.js v\d|^\s*[{}[\]](,)?\s*$/.test(l));
  const isError = (l: string) => /^\s*(\w*Error|Error \[\w+\])\b.*:|^\s*\w*Error:/.test(l);
  for (let i = said.length - 1; i >= 0; i--) {
    if (!isError(said[i])) continue;
    const line = said[i].trim();
    // "Error: Build failed with 1 error:" announces the real message on the next line.
    return line.endsWith(':') && said[i + 1] ? `${line} ${said[i + 1].trim()}` : line;
  }
  return said.slice(-3).join(' | ');
}

export type GateVerdict =
  { kind: 'pass'; reason: string } | { kind: 'fail'; blame: Blame; reason: string } | { kind: 'wait' };

export function judgeGate(look: GateLook, s: GateSettings): GateVerdict {
  const where = `127.0.0.1:${look.port}`;
  if (look.exit) {
    const last = pickCause(look.tail);
    return {
      kind: 'fail',
      blame: 'commit',
      reason: `the dev server exited with ${look.exit} before it answered${last ? `: ${last}` : ''}`,
    };
  }
  // Listening on the port but on another address (127.0.0.2, or ::1 for "localhost") is elsewhere too.
  const own = look.own ?? [];
  const onPort = own.some((l) => l.port === look.port && REACHES_LOOPBACK.has(l.address));
  const known = look.own !== null;
  if (look.status !== null && known && !onPort) {
    // Someone answers on our port, but not the process we started (it may not listen yet, or
    // lost the port to another program between our pick and its bind): never trusted.
    return { kind: 'fail', blame: 'environment', reason: `another program answers on the inner port ${look.port}` };
  }
  if (look.status !== null && look.status < 500) {
    // An answer with no listener known: the OS would not say who listens (lsof missing); trust it.
    return { kind: 'pass', reason: `answered ${look.status} on ${where}` };
  }
  if (look.status !== null && (look.erroringMs ?? 0) >= ERROR_GRACE_MS) {
    return { kind: 'fail', blame: 'commit', reason: `${s.healthPath} answered ${look.status}` };
  }
  if (look.status === null && own.length > 0 && !onPort && (look.elsewhereMs ?? 0) >= ELSEWHERE_GRACE_MS) {
    const places = own.map((l) => formatHostPort(l.address, l.port)).join(', ');
    return {
      kind: 'fail',
      blame: 'command',
      reason: `the dev server listens on ${places}, not on ${where} where it was told to; pass its host and port flags with --command '${s.suggestion}' (or the flags your dev server takes)`,
    };
  }
  if (look.pastDeadline) {
    const what = look.status === null ? `did not answer (${look.probeError})` : `answered ${look.status}`;
    return { kind: 'fail', blame: 'commit', reason: `${s.healthPath} ${what} within ${s.healthTimeoutS} s` };
  }
  return { kind: 'wait' };
}
