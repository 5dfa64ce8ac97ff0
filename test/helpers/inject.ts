/**
 * doctor's side of the fault tests: run it, read its JSON, assert one cause is reported
 * once, and inject the faults that need more than a line (a stray server, a new Node).
 */
import * as assert from 'uvu/assert';
import { chmodSync, mkdirSync, readlinkSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { CliResult, Fixture } from './fixture.js';
import { run } from './proc.js';

export interface DoctorCheck {
  id: string;
  title: string;
  status: 'ok' | 'warn' | 'fail' | 'skip';
  summary: string;
  detail: string | null;
  fix: string | null;
}

export interface DoctorDoc {
  schemaVersion: number;
  site: string;
  url?: string;
  servedSha?: string | null;
  verdict: 'ok' | 'warnings' | 'problems';
  next?: string;
  checks: DoctorCheck[];
}

export type SlotName = 'a' | 'b';

/** The slot localhost-worktree points at (the live one), read from the link itself. */
export function getLiveSlot(fx: Fixture): SlotName {
  const slot = basename(readlinkSync(fx.worktree));
  assert.ok(slot === 'a' || slot === 'b', `localhost-worktree points at a slot, not at ${slot}`);
  return slot as SlotName;
}

export function getOtherSlot(slot: SlotName): SlotName {
  return slot === 'a' ? 'b' : 'a';
}

export function getSlotDir(fx: Fixture, slot: SlotName): string {
  return join(fx.siteDir(), 'slots', slot);
}

/** The "Next:" line of the text report: the one command doctor names. */
export async function getNextCommand(fx: Fixture, env: NodeJS.ProcessEnv = {}): Promise<string> {
  const text = await fx.cli(['doctor'], env, 60_000);
  const next = /^Next: (.*)$/m.exec(text.stdout)?.[1];
  if (!next) throw new Error(`doctor printed no Next line:\n${text.stdout}${text.stderr}`);
  return next;
}

/**
 * Runs a fix doctor names that is a plain command line (git, rm, kill; `&&` between them),
 * the way a user pastes it: ~ is this fixture's HOME, and a localhost-ops step runs the CLI.
 */
export async function runShellFix(fx: Fixture, command: string, env: NodeJS.ProcessEnv = {}): Promise<void> {
  for (const part of command.split(' && ')) {
    const words = part.split(' ').map((w) => (w.startsWith('~/') ? join(fx.home, w.slice(2)) : w));
    if (words[0] === 'localhost-ops') {
      const r = await runFixCommand(fx, part, env);
      assert.is(r.code, 0, `${part}: ${r.stdout}${r.stderr}`);
      continue;
    }
    const r = await run(words[0], words.slice(1), {
      cwd: fx.root,
      env: { ...fx.env, ...env },
      allowFail: true,
      timeoutMs: 60_000,
    });
    assert.is(r.code, 0, `${part}: ${r.stdout}${r.stderr}`);
  }
}

export async function doctorJson(
  fx: Fixture,
  args: string[] = [],
  env: NodeJS.ProcessEnv = {},
): Promise<{ code: number; doc: DoctorDoc; r: CliResult }> {
  const r = await fx.cli(['doctor', '--json', ...args], env, 60_000);
  let doc: DoctorDoc;
  try {
    doc = JSON.parse(r.stdout) as DoctorDoc;
  } catch {
    throw new Error(`doctor --json printed no JSON (exit ${r.code}):\n${r.stdout}\n${r.stderr}`);
  }
  return { code: r.code, doc, r };
}

export function check(doc: DoctorDoc, id: string): DoctorCheck {
  const found = doc.checks.find((c) => c.id === id);
  if (!found) throw new Error(`no check "${id}" in the report`);
  return found;
}

export function describe(doc: DoctorDoc): string {
  return doc.checks
    .map((c) => `${c.status.padEnd(4)} ${c.id}: ${c.summary}${c.fix ? ` | fix: ${c.fix}` : ''}`)
    .join('\n');
}

export function assertHealthy(doc: DoctorDoc, code: number): void {
  assert.is(doc.verdict, 'ok', describe(doc));
  assert.is(code, 0);
  for (const c of doc.checks)
    assert.ok(c.status === 'ok' || c.status === 'skip', `${c.id} is ${c.status}: ${c.summary}`);
}

/**
 * The fault is reported once: `id` has `status` and a fix matching `fix`, the checks in
 * `skipped` are skipped, and nothing else fails (or warns, unless listed in `alsoWarn`).
 */
export function assertFault(
  doc: DoctorDoc,
  code: number,
  want: { id: string; status: 'warn' | 'fail'; fix: RegExp; skipped?: string[]; alsoWarn?: string[] },
): DoctorCheck {
  const all = describe(doc);
  const c = check(doc, want.id);
  assert.is(c.status, want.status, `${want.id}\n${all}`);
  assert.ok(c.fix, `${want.id} has a fix`);
  assert.match(c.fix ?? '', want.fix, `${want.id}'s fix\n${all}`);
  for (const id of want.skipped ?? []) {
    const s = check(doc, id);
    assert.is(s.status, 'skip', `${id} depends on ${want.id}\n${all}`);
    assert.match(s.summary, want.id, `${id} names the cause`);
  }
  const others = doc.checks.filter((o) => o.id !== want.id && !(want.skipped ?? []).includes(o.id));
  for (const o of others) {
    const allowed = o.status === 'ok' || (o.status === 'warn' && (want.alsoWarn ?? []).includes(o.id));
    assert.ok(allowed, `only ${want.id} reports this fault, but ${o.id} is ${o.status}\n${all}`);
  }
  for (const o of doc.checks) if (o.status === 'warn' || o.status === 'fail') assert.ok(o.fix, `${o.id} carries a fix`);
  assert.is(doc.verdict, want.status === 'fail' ? 'problems' : 'warnings');
  assert.is(code, want.status === 'fail' ? 1 : 0);
  return c;
}

/**
 * "nvm install <major>", as the fix says: a Node that reports `version` where nvm keeps
 * it. It is the Node running the tests behind a wrapper; the version comes from its folder.
 */
export function installNodeWithNvm(fx: Fixture, version: string): string {
  const bin = join(fx.home, '.nvm', 'versions', 'node', `v${version}`, 'bin');
  mkdirSync(bin, { recursive: true });
  writeFileSync(join(bin, 'node'), `#!/bin/sh\nexec '${process.execPath}' "$@"\n`);
  chmodSync(join(bin, 'node'), 0o755);
  return join(bin, 'node');
}

/** Runs a doctor fix that is a localhost-ops command line, as a user would paste it. */
export async function runFixCommand(fx: Fixture, command: string, env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  const words = command.split(' ');
  assert.is(words[0], 'localhost-ops', `a localhost-ops command: ${command}`);
  const args = words.slice(1).map((w) => (w.startsWith('~/') ? join(fx.home, w.slice(2)) : w));
  return fx.cli(args, env);
}
