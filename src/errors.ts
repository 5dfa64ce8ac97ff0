/**
 * The two kinds of failure the CLI knows. Both are caught only at the top (cli.ts),
 * which prints one sentence and sets process.exitCode; nothing below prints a stack.
 */

/** A problem the user can fix: the message says what is wrong, `fix` says what to do. */
export class UserError extends Error {
  constructor(
    message: string,
    readonly fix: string = '',
    readonly exitCode: number = 2,
  ) {
    super(message);
    this.name = 'UserError';
  }
}

/** A step that failed for reasons outside the user's input (git, npm, a server). Exit 1. */
export class OpsError extends Error {
  readonly exitCode = 1;
  constructor(
    message: string,
    readonly fix: string = '',
  ) {
    super(message);
    this.name = 'OpsError';
  }
}

export function describeError(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}

/** The message and, for our own errors, the fix after it. */
export function describeWithFix(err: unknown): string {
  if ((err instanceof UserError || err instanceof OpsError) && err.fix) return `${err.message} ${err.fix}`;
  return describeError(err);
}

/** Exactly one line: the message (and fix) joined, with newlines folded. */
export function oneLine(text: string, max = 800): string {
  const line = text.replace(/\s*[\r\n]+\s*/g, ' ').trim();
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}
