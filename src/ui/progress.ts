/**
 * Progress for a person watching: a spinner on stderr, only when stderr is a TTY (ora is
 * imported only then). stdout stays for the report or the --json document.
 */
export interface Progress {
  update(text: string): void;
  stop(): void;
}

const silent: Progress = { update() {}, stop() {} };

/**
 * A spinner only where it can be drawn: a TTY of known width that is not `TERM=dumb`, and not
 * under a CI runner (`CI` set, the rule ora itself follows). A terminal of unknown width once
 * got escape codes for ever (368 MB in 10 minutes). Under `CI`, ora left to decide printed
 * "- checking the repository" once and then nothing for the whole install.
 */
export function canSpin(stream: NodeJS.WriteStream = process.stderr, env = process.env): boolean {
  return stream.isTTY === true && (stream.columns ?? 0) > 0 && env.TERM !== 'dumb' && env.CI === undefined;
}

export async function createProgress(initial: string): Promise<Progress> {
  if (!canSpin()) return silent;
  const { default: ora } = await import('ora');
  // Not ora's stdin handling: it puts the terminal in raw mode, and a stop signal must still end us.
  // isEnabled: canSpin has decided, so ora does not decide a second time by other rules.
  const spinner = ora({ text: initial, stream: process.stderr, discardStdin: false, isEnabled: true }).start();
  const onSignal = (signal: NodeJS.Signals) => {
    spinner.stop();
    process.removeListener('SIGTERM', onSignal);
    process.removeListener('SIGINT', onSignal);
    // Ended by the signal as if no handler were here: the shell sees 128 + n.
    process.kill(process.pid, signal);
  };
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
  return {
    update(text) {
      spinner.text = text;
    },
    stop() {
      spinner.stop();
      process.removeListener('SIGTERM', onSignal);
      process.removeListener('SIGINT', onSignal);
    },
  };
}

/** Colour only when asked for or on a TTY, and never under NO_COLOR; layout is the same. */
export function isColorEnabled(stream: NodeJS.WriteStream = process.stdout): boolean {
  if (process.env.NO_COLOR !== undefined && process.env.NO_COLOR !== '') return false;
  const force = process.env.FORCE_COLOR;
  if (force !== undefined) return force !== '0' && force !== 'false';
  return stream.isTTY === true;
}
