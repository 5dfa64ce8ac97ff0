/**
 * The errors the tool knows, with fields rather than text to tell them apart. All are
 * caught only at the top (cli.ts), which prints one sentence and the fix and sets the exit
 * code; nothing below prints a stack.
 */

/** The base: a message, the fix that names what to do, and the exit code. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly fix: string = '',
    readonly exitCode: number = 1,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** A problem the user can fix in what they typed or wrote on disk. Exit 2. */
export class UserError extends CliError {
  constructor(message: string, fix = '', exitCode = 2) {
    super(message, fix, exitCode);
  }
}

/** A config.json read back from disk and refused (DESIGN §3): the file is named, so uninstall can still stop the jobs. */
export class ConfigError extends UserError {
  constructor(
    message: string,
    fix: string,
    readonly file: string,
  ) {
    super(message, fix);
  }
}

/** A step that failed for reasons outside the user's input (git, npm, a server). Exit 1. */
export class OpsError extends CliError {
  constructor(message: string, fix = '') {
    super(message, fix, 1);
  }
}

export type GitErrorKind = 'no-such-ref' | 'unreachable' | 'ref-lock' | 'timeout' | 'other';

/** A git command that failed: what ran, how it ended, and what kind of failure git reported. */
export class GitError extends OpsError {
  constructor(
    message: string,
    fix: string,
    readonly args: string[],
    readonly code: number | null,
    readonly stderr: string,
    readonly kind: GitErrorKind,
  ) {
    super(message, fix);
  }
}

/** npm could not reach the registry: the network's fault, never the commit's. */
export class NetworkError extends OpsError {
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
  }
}

/** No installed Node satisfies a range: the range, where we looked, and how to get one. */
export class NoNodeError extends OpsError {
  constructor(
    message: string,
    fix: string,
    readonly range: string,
    readonly lookedIn: string[],
    readonly hint: string,
  ) {
    super(message, fix);
  }
}

export function describeError(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}

/** The message and, for our own errors, the fix after it. */
export function describeWithFix(err: unknown): string {
  if (err instanceof CliError && err.fix) return `${err.message} ${err.fix}`;
  return describeError(err);
}

/** Exactly one line: the message (and fix) joined, with newlines folded. */
export function oneLine(text: string, max = 800): string {
  const line = text.replace(/\s*[\r\n]+\s*/g, ' ').trim();
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}
