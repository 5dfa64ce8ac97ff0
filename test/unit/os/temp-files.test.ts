/** Temp files a killed writer left (DESIGN §3): removed after an hour, never younger ones or others' files. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  lutimesSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { removeOldTempFiles } from '../../../src/os/fs.js';

test('only ours, only older than an hour, only in the folders named', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lops-tmp-'));
  try {
    const run = join(dir, 'run');
    const deeper = join(dir, 'logs');
    mkdirSync(run);
    mkdirSync(deeper);
    const old = new Date(Date.now() - 2 * 3600_000);
    const recent = new Date(Date.now() - 30 * 60_000);
    const file = (path: string, at: Date) => {
      writeFileSync(path, 'x');
      utimesSync(path, at, at);
    };
    file(join(dir, '.last-sync.env.4242.tmp'), old);
    file(join(dir, '.config.json.4243.tmp'), recent);
    file(join(run, '.server.json.77.tmp'), old);
    file(join(dir, 'notes.tmp'), old);
    file(join(dir, 'last-sync.env'), old);
    file(join(deeper, '.x.1.tmp'), old);
    symlinkSync('slots/a', join(dir, 'localhost-worktree.4242.tmp'));
    lutimesSync(join(dir, 'localhost-worktree.4242.tmp'), old, old);
    symlinkSync('slots/b', join(dir, 'localhost-worktree.4244.tmp'));

    const removed = removeOldTempFiles([dir, run, join(dir, 'missing')]);
    assert.equal(removed, [
      join(dir, '.last-sync.env.4242.tmp'),
      join(dir, 'localhost-worktree.4242.tmp'),
      join(run, '.server.json.77.tmp'),
    ]);
    assert.equal(readdirSync(dir).sort(), [
      '.config.json.4243.tmp',
      'last-sync.env',
      'localhost-worktree.4244.tmp',
      'logs',
      'notes.tmp',
      'run',
    ]);
    assert.equal(readdirSync(deeper), ['.x.1.tmp'], 'a folder not named is left alone');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
