/** Where a spinner may be drawn: a TTY of known width, not TERM=dumb, not under a CI runner. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { canSpin } from '../../../src/ui/progress.js';

test('canSpin: only a TTY of known width that is not dumb, outside CI', () => {
  const stream = (isTTY: boolean, columns: number | undefined) => ({ isTTY, columns }) as unknown as NodeJS.WriteStream;
  const rows: [boolean, number | undefined, NodeJS.ProcessEnv, boolean][] = [
    [true, 80, { TERM: 'xterm-256color' }, true],
    [true, 0, { TERM: 'xterm' }, false],
    [true, undefined, { TERM: 'xterm' }, false],
    [true, 80, { TERM: 'dumb' }, false],
    [false, 80, { TERM: 'xterm' }, false],
    // Any value of CI counts, as for ora: runners set "true", "1" or "".
    [true, 80, { TERM: 'xterm', CI: 'true' }, false],
    [true, 80, { TERM: 'xterm', CI: '' }, false],
  ];
  for (const [isTTY, columns, env, want] of rows) {
    assert.is(canSpin(stream(isTTY, columns), env), want, `${isTTY} ${columns} ${JSON.stringify(env)}`);
  }
});

test.run();
