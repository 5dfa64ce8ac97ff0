/** Small pure helpers the manage commands share: ages, times, colour codes. */
import { parseLocalTime } from '../site/last-sync.js';

/** "12 s", "5 min", "3 h", "2 days": how long ago, without the "ago". */
export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 120) return `${s} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  if (s < 172_800) return `${Math.round(s / 3600)} h`;
  return `${Math.round(s / 86_400)} days`;
}

/** A local time as the state files write it ("2026-03-16 20:29:43") as ISO 8601 UTC, or null. */
export function toIsoTime(local: string | null | undefined): string | null {
  const date = local ? parseLocalTime(local) : null;
  return date ? date.toISOString() : null;
}

/** "5 min ago" from a local time, or null when it cannot be read. */
export function formatAgo(local: string | null | undefined, now = Date.now()): string | null {
  const date = local ? parseLocalTime(local) : null;
  return date ? `${formatDuration(now - date.getTime())} ago` : null;
}

// CSI sequences (colours, cursor moves), OSC sequences (titles, links), other two-byte escapes.
const ANSI_RE = /\u001b\[[0-?]*[ -/]*[@-~]|\u001b\][^\u0007\u001b]*(?:\u0007|\u001b\\)|\u001b[@-Z\\-_]/g;

/** A log line as a person reads it: colour and cursor codes gone, a spinner's carriage returns too. */
export function stripAnsi(line: string): string {
  const plain = line.replace(ANSI_RE, '');
  // A line redrawn with \r shows only its last state.
  const cr = plain.lastIndexOf('\r', plain.length - 2);
  return (cr >= 0 ? plain.slice(cr + 1) : plain).replace(/\r$/, '');
}
