import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  mkdtempSync,
  rmSync,
  writeFileSync,
  readFileSync,
  existsSync,
  openSync,
  writeSync,
  closeSync,
  statSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rotateIfLarge, appendLogLine } from '../../../src/os/log.js';

function withDir(fn: (dir: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'lops-log-'));
  try {
    fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('a log under the limit is left alone', () => {
  withDir((dir) => {
    const file = join(dir, 'sync.log');
    writeFileSync(file, 'small\n');
    assert.not.ok(rotateIfLarge(file, 100, 3));
    assert.not.ok(existsSync(`${file}.1`));
  });
});

test('rotation keeps three old copies, newest first', () => {
  withDir((dir) => {
    const file = join(dir, 'sync.log');
    for (const round of ['a', 'b', 'c', 'd', 'e']) {
      writeFileSync(file, round.repeat(200));
      assert.ok(rotateIfLarge(file, 100, 3));
      assert.is(statSync(file).size, 0);
    }
    assert.is(readFileSync(`${file}.1`, 'utf8')[0], 'e');
    assert.is(readFileSync(`${file}.2`, 'utf8')[0], 'd');
    assert.is(readFileSync(`${file}.3`, 'utf8')[0], 'c');
    assert.not.ok(existsSync(`${file}.4`), 'no fourth copy');
  });
});

test('copy-then-truncate: a writer holding the file open keeps writing to the live log', () => {
  withDir((dir) => {
    const file = join(dir, 'server.log');
    const fd = openSync(file, 'a');
    try {
      writeSync(fd, 'x'.repeat(300));
      assert.ok(rotateIfLarge(file, 100, 3));
      writeSync(fd, 'after rotation\n');
    } finally {
      closeSync(fd);
    }
    // O_APPEND writes land at the new end of the truncated file, not in the copy.
    assert.is(readFileSync(file, 'utf8'), 'after rotation\n');
    assert.is(readFileSync(`${file}.1`, 'utf8'), 'x'.repeat(300));
  });
});

test('log lines are timestamped and one line each', () => {
  withDir((dir) => {
    const file = join(dir, 'logs', 'sync.log');
    appendLogLine(file, 'fetch: origin/main is abc\nwith a second line');
    const text = readFileSync(file, 'utf8');
    assert.match(text, /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} fetch: origin\/main is abc with a second line\n$/);
  });
});

test.run();
