/**
 * Facts about processes and listening sockets, used to decide whether "the listener is ours".
 * On Linux everything comes from /proc so that doctor and the health gate spawn nothing;
 * elsewhere (macOS) we ask lsof and ps through proc.run.
 */
import { existsSync, readdirSync, readFileSync, readlinkSync, realpathSync } from 'node:fs';
import { createServer, isIP as netIsIP, type AddressInfo } from 'node:net';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { run } from './exec.js';

export interface SocketEntry {
  address: string;
  port: number;
  inode: number;
}
export interface Listener {
  pid: number | null;
  address: string;
  port: number;
  cwd: string | null;
  command: string | null;
}

const isLinux = process.platform === 'linux';
// launchd and some shells leave /usr/sbin off PATH, which is where macOS keeps lsof.
const LSOF = existsSync('/usr/sbin/lsof') ? '/usr/sbin/lsof' : 'lsof';
const LSOF_TIMEOUT_MS = 3000;
const COMMAND_MAX = 200;

/**
 * The kernel prints each 32-bit word of the address in host byte order; every platform
 * this tool supports is little-endian, so the bytes of each word come out reversed.
 */
function wordBytes(hex: string): number[] {
  const bytes: number[] = [];
  for (let w = 0; w < hex.length; w += 8) {
    for (let i = 6; i >= 0; i -= 2) bytes.push(parseInt(hex.slice(w + i, w + i + 2), 16));
  }
  return bytes;
}

function formatV6(b: number[]): string {
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((b[i] << 8) | b[i + 1]);
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    return `::ffff:${b.slice(12).join('.')}`;
  }
  // RFC 5952: compress the longest run (at least two) of zero groups, the first on a tie.
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) [best, bestLen] = [i, j - i];
    i = j === i ? i + 1 : j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best < 0) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`;
}

export function parseProcNetTcp(text: string, v6: boolean): SocketEntry[] {
  const addrRe = v6 ? /^([0-9A-Fa-f]{32}):([0-9A-Fa-f]{4})$/ : /^([0-9A-Fa-f]{8}):([0-9A-Fa-f]{4})$/;
  const out: SocketEntry[] = [];
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length < 10 || f[3] !== '0A') continue;
    const m = addrRe.exec(f[1]);
    if (!m) continue;
    const bytes = wordBytes(m[1]);
    out.push({
      address: v6 ? formatV6(bytes) : bytes.join('.'),
      port: parseInt(m[2], 16),
      inode: Number(f[9]),
    });
  }
  return out;
}

export function isLoopbackAddress(address: string): boolean {
  const a = address
    .toLowerCase()
    .replace(/^\[|\]$/g, '')
    .replace(/%.*$/, '');
  return /^127\.\d+\.\d+\.\d+$/.test(a) || a === '::1' || /^::ffff:127\.\d+\.\d+\.\d+$/.test(a);
}

/** Processes come and go, and other users' entries are unreadable: a failed read is just "unknown". */
function attempt<T>(read: () => T): T | null {
  try {
    return read();
  } catch {
    return null;
  }
}
const readText = (path: string) => attempt(() => readFileSync(path, 'utf8'));
const readLink = (path: string) => attempt(() => readlinkSync(path));
const pids = () => (attempt(() => readdirSync('/proc')) ?? []).filter((e) => /^\d+$/.test(e)).map(Number);

function truncate(s: string): string | null {
  const t = s.trim();
  return t ? t.slice(0, COMMAND_MAX) : null;
}

function linuxCommand(pid: number): string | null {
  const raw = readText(`/proc/${pid}/cmdline`);
  return raw === null ? null : truncate(raw.split('\0').join(' '));
}

function linuxListeners(port: number): Listener[] {
  const sockets = [
    ...parseProcNetTcp(readText('/proc/net/tcp') ?? '', false),
    ...parseProcNetTcp(readText('/proc/net/tcp6') ?? '', true),
  ].filter((s) => s.port === port);
  if (sockets.length === 0) return [];
  // A forked child inherits the listening fd, so one socket may belong to several pids.
  const owners = new Map<number, number[]>(sockets.map((s) => [s.inode, []]));
  for (const pid of pids()) {
    for (const fd of attempt(() => readdirSync(`/proc/${pid}/fd`)) ?? []) {
      const m = /^socket:\[(\d+)\]$/.exec(readLink(`/proc/${pid}/fd/${fd}`) ?? '');
      const list = m ? owners.get(Number(m[1])) : undefined;
      if (list && !list.includes(pid)) list.push(pid);
    }
  }
  const out: Listener[] = [];
  for (const s of sockets) {
    const found = s.inode === 0 ? [] : (owners.get(s.inode) ?? []);
    if (found.length === 0) out.push({ pid: null, address: s.address, port: s.port, cwd: null, command: null });
    for (const pid of found) {
      out.push({
        pid,
        address: s.address,
        port: s.port,
        cwd: readLink(`/proc/${pid}/cwd`),
        command: linuxCommand(pid),
      });
    }
  }
  return out;
}

/** Runs lsof; null when it is missing, times out or cannot start. */
async function lsof(args: string[]): Promise<string | null> {
  try {
    return (await run(LSOF, args, { timeoutMs: LSOF_TIMEOUT_MS, allowFail: true })).stdout;
  } catch {
    return null;
  }
}

/** lsof prints "*:port" for a wildcard and "[v6]:port" for IPv6; the file type tells * apart. */
function lsofAddress(name: string, type: string): { address: string; port: number } | null {
  const m = /^(.*):(\d+)$/.exec(name.split('->')[0]);
  if (!m) return null;
  const host = m[1] === '*' ? (type === 'IPv6' ? '::' : '0.0.0.0') : m[1].replace(/^\[|\]$/g, '');
  return { address: host, port: Number(m[2]) };
}

async function lsofListeners(port: number): Promise<Listener[]> {
  // The command name comes with the same call (-F c): a no-op sync runs this every minute.
  const out = await lsof(['-nP', `-iTCP:${port}`, '-sTCP:LISTEN', '-F', 'pctn']);
  if (!out) return [];
  const found: { pid: number; address: string; port: number; command: string | null }[] = [];
  let pid = 0;
  let command: string | null = null;
  let type = '';
  for (const line of out.split('\n')) {
    const tag = line[0];
    const value = line.slice(1);
    if (tag === 'p') {
      pid = Number(value);
      command = null;
    } else if (tag === 'c') command = value || null;
    else if (tag === 'f') type = '';
    else if (tag === 't') type = value;
    else if (tag === 'n' && pid > 0) {
      const a = lsofAddress(value, type);
      if (a && a.port === port && !found.some((x) => x.pid === pid && x.address === a.address))
        found.push({ pid, command, ...a });
    }
  }
  const cwds = await lsofCwds([...new Set(found.map((f) => f.pid))]);
  return found.map((f) => ({
    pid: f.pid,
    address: f.address,
    port: f.port,
    cwd: cwds.get(f.pid) ?? null,
    command: f.command,
  }));
}

/** The cwd of several processes in one lsof call. */
async function lsofCwds(pids: number[]): Promise<Map<number, string>> {
  const cwds = new Map<number, string>();
  if (pids.length === 0) return cwds;
  const out = await lsof(['-a', '-p', pids.join(','), '-d', 'cwd', '-F', 'pn']);
  let pid = 0;
  for (const line of (out ?? '').split('\n')) {
    if (line.startsWith('p')) pid = Number(line.slice(1));
    else if (line.startsWith('n') && pid > 0) cwds.set(pid, line.slice(1));
  }
  return cwds;
}

export async function getListeners(port: number): Promise<Listener[]> {
  return isLinux ? linuxListeners(port) : lsofListeners(port);
}

function lsofNames(out: string): string[] {
  return out
    .split('\n')
    .filter((l) => l.startsWith('n'))
    .map((l) => l.slice(1));
}

export async function getProcessCwd(pid: number): Promise<string | null> {
  if (isLinux) return readLink(`/proc/${pid}/cwd`);
  const out = await lsof(['-a', '-p', String(pid), '-d', 'cwd', '-F', 'n']);
  return out ? (lsofNames(out)[0] ?? null) : null;
}

/** False when something holds host:port; other bind errors (EADDRNOTAVAIL, EACCES) are thrown. */
export function isPortFree(host: string, port: number): Promise<boolean> {
  return new Promise((resolvePromise, reject) => {
    const server = createServer();
    server.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EADDRINUSE') resolvePromise(false);
      else reject(err);
    });
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolvePromise(true)));
  });
}

export function getFreePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolvePromise, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen({ host, port: 0, exclusive: true }, () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolvePromise(port));
    });
  });
}

/** realpath of the deepest existing ancestor plus the rest, so a missing child still compares like its parent. */
function realish(p: string): string {
  const abs = resolve(p);
  let head = abs;
  let tail = '';
  for (;;) {
    try {
      return join(realpathSync.native(head), tail);
    } catch {
      const up = dirname(head);
      if (up === head) return abs;
      tail = join(basename(head), tail);
      head = up;
    }
  }
}

export function isInside(child: string, parent: string): boolean {
  const rel = relative(realish(parent), realish(child));
  return rel === '' || (rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel));
}

export async function hasGitProcessIn(dir: string): Promise<boolean> {
  if (!isLinux) {
    const out = await lsof(['-a', '-c', 'git', '-d', 'cwd', '-F', 'n']);
    return out ? lsofNames(out).some((cwd) => isInside(cwd, dir)) : false;
  }
  for (const pid of pids()) {
    const comm = readText(`/proc/${pid}/comm`)?.trim();
    const argv0 = readText(`/proc/${pid}/cmdline`)?.split('\0')[0] ?? '';
    if (comm !== 'git' && basename(argv0) !== 'git') continue;
    const cwd = readLink(`/proc/${pid}/cwd`);
    if (cwd && isInside(cwd, dir)) return true;
  }
  return false;
}

export interface ProcessInfo {
  pid: number;
  cwd: string;
  command: string | null;
}

/**
 * Every process whose working folder is `dir` or inside it (Linux: /proc; macOS: lsof's
 * list of every process's cwd), this one excepted. A folder removed under a process still
 * counts (Linux shows it with " (deleted)").
 */
export async function getProcessesIn(dir: string): Promise<ProcessInfo[]> {
  const root = realish(dir);
  const inside = (cwd: string) => {
    const path = cwd.replace(/ \(deleted\)$/, '');
    return path === root || path.startsWith(root + sep);
  };
  const found: ProcessInfo[] = [];
  if (isLinux) {
    for (const pid of pids()) {
      const cwd = readLink(`/proc/${pid}/cwd`);
      if (pid !== process.pid && cwd && inside(cwd)) found.push({ pid, cwd, command: linuxCommand(pid) });
    }
    return found;
  }
  let pid = 0;
  let command: string | null = null;
  for (const line of ((await lsof(['-d', 'cwd', '-F', 'pcn'])) ?? '').split('\n')) {
    if (line[0] === 'p') [pid, command] = [Number(line.slice(1)), null];
    else if (line[0] === 'c') command = line.slice(1) || null;
    else if (line[0] === 'n' && pid > 0 && pid !== process.pid && inside(line.slice(1))) {
      found.push({ pid, cwd: line.slice(1), command });
    }
  }
  return found;
}

/** This process and the ones above it (the shell that ran it, …): never to be ended by it. */
export function getOwnAncestors(): Set<number> {
  const own = new Set([process.pid, process.ppid]);
  if (!isLinux) return own;
  const table = readProcTable();
  for (let pid = process.ppid; pid > 1 && table.has(pid); pid = table.get(pid)!.ppid) own.add(pid);
  return own;
}

/** pid → [parent pid, process group] for every process /proc shows. */
function readProcTable(): Map<number, { ppid: number; pgrp: number }> {
  const table = new Map<number, { ppid: number; pgrp: number }>();
  for (const pid of pids()) {
    const stat = readText(`/proc/${pid}/stat`);
    if (!stat) continue;
    // comm may hold spaces and parentheses; the fields after the last ')' are fixed.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    table.set(pid, { ppid: Number(rest[1]), pgrp: Number(rest[2]) });
  }
  return table;
}

/**
 * The process a dev server was started as, and every process below it: its group, plus
 * descendants that made a group of their own. The gate trusts only these (DESIGN §3).
 */
function getTreePids(root: number): Set<number> {
  const table = readProcTable();
  const tree = new Set<number>([root]);
  for (const [pid, p] of table) if (p.pgrp === root) tree.add(pid);
  for (let grew = true; grew;) {
    grew = false;
    for (const [pid, p] of table) {
      if (!tree.has(pid) && tree.has(p.ppid)) {
        tree.add(pid);
        grew = true;
      }
    }
  }
  return tree;
}

export interface OwnListener {
  address: string;
  port: number;
}

/**
 * Where the process tree started as `root` (its own group leader) listens on TCP; null when
 * the OS would not say (lsof missing or failing), which is not the same as "nowhere".
 */
export async function getTreeListeners(root: number): Promise<OwnListener[] | null> {
  if (!isLinux) {
    const out = await lsof(['-nP', '-a', '-g', String(root), '-iTCP', '-sTCP:LISTEN', '-F', 'tn']);
    if (out === null) return null;
    const found: OwnListener[] = [];
    let type = '';
    for (const line of out.split('\n')) {
      if (line[0] === 't') type = line.slice(1);
      if (line[0] !== 'n') continue;
      const a = lsofAddress(line.slice(1), type);
      if (a && !found.some((f) => f.port === a.port && f.address === a.address)) found.push(a);
    }
    return found;
  }
  const inodes = new Set<number>();
  for (const pid of getTreePids(root)) {
    for (const fd of attempt(() => readdirSync(`/proc/${pid}/fd`)) ?? []) {
      const m = /^socket:\[(\d+)\]$/.exec(readLink(`/proc/${pid}/fd/${fd}`) ?? '');
      if (m) inodes.add(Number(m[1]));
    }
  }
  const sockets = [
    ...parseProcNetTcp(readText('/proc/net/tcp') ?? '', false),
    ...parseProcNetTcp(readText('/proc/net/tcp6') ?? '', true),
  ];
  return sockets.filter((s) => inodes.has(s.inode)).map((s) => ({ address: s.address, port: s.port }));
}

/** 4 or 6 for an IP literal, 0 for anything else (a name such as localhost). */
export function isIP(text: string): number {
  return netIsIP(text);
}
