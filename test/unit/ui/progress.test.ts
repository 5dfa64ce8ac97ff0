/** Where a spinner may be drawn: a TTY of known width, not TERM=dumb. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { canSpin } from '../../../src/ui/progress.js';

test('canSpin: only a TTY of known width that is not dumb', () => {
  const stream = (isTTY: boolean, columns: number | undefined) => ({ isTTY, columns }) as unknown as NodeJS.WriteStream;
  const rows: [boolean, number | undefined, string | undefined, boolean][] = [
    [true, 80, 'xterm-256color', true],
    [true, 0, 'xterm', false],
    [true, undefined, 'xterm', false],
    [true, 80, 'dumb', false],
    [false, 80, 'xterm', false],
  ];
  for (const [isTTY, columns, term, want] of rows) {
    assert.is(canSpin(stream(isTTY, columns), { TERM: term }), want, `${isTTY} ${columns} ${term}`);
  }
});

test.run();
