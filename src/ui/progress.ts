/**
 * Progress for a person watching: a spinner on stderr, only when stderr is a TTY (ora is
 * imported only then). stdout stays for the report or the --json document.
 */
export interface Progress {
  update(text: string): void;
  stop(): void;
}

const silent: Progress = { update() {}, stop() {} };

export async function createProgress(initial: string): Promise<Progress> {
  if (!process.stderr.isTTY) return silent;
  const { default: ora } = await import('ora');
  const spinner = ora({ text: initial, stream: process.stderr }).start();
  return {
    update(text) {
      spinner.text = text;
    },
    stop() {
      spinner.stop();
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
