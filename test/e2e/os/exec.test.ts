/** The one spawn wrapper turns every failure into one sentence. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { constants, tmpdir } from 'node:os';
import { join } from 'node:path';
import { run, spawnDetached, spawnForeground } from '../../../src/os/exec.js';
import { OpsError } from '../../../src/errors.js';
import { withTimeout } from '../../helpers/fixture.js';
import { isAlive, isGroupAlive, killQuietly, sleep } from '../../helpers/proc.js';

async function failure(p: Promise<unknown>): Promise<OpsError> {
  try {
    await p;
  } catch (err) {
    assert.instance(err, OpsError);
    return err as OpsError;
  }
  throw new Error('expected a rejection');
}

test('a missing program, a missing folder, a timeout and a failure each read as a sentence', async () => {
  const missing = await failure(run('no-such-program-xyz', ['--x']));
  assert.match(missing.message, /"no-such-program-xyz" was not found on PATH\./);
  assert.match(missing.fix, /Install no-such-program-xyz/);

  const noDir = await failure(run('git', ['status'], { cwd: '/nonexistent/clone' }));
  assert.match(noDir.message, /git status could not run: the folder \/nonexistent\/clone does not exist\./);

  const slow = await failure(run(process.execPath, ['-e', 'setTimeout(() => {}, 10000)'], { timeoutMs: 200 }));
  assert.match(slow.message, /timed out after 0 s|timed out after/);

  const dir = mkdtempSync(join(tmpdir(), 'lops-proc-'));
  try {
    const bad = await failure(run('git', ['-c', 'core.hooksPath=/dev/null', 'rev-parse', 'HEAD'], { cwd: dir }));
    assert.match(bad.message, /^git rev-parse exited with 128: fatal: not a git repository/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('allowFail resolves with the exit code and the output', async () => {
  const r = await run(
    process.execPath,
    ['-e', 'process.stdout.write("out"); process.stderr.write("err"); process.exit(3)'],
    { allowFail: true },
  );
  assert.equal(r, { code: 3, stdout: 'out', stderr: 'err' });
});

function withDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'lops-exec-'));
  return fn(dir).finally(() => rmSync(dir, { recursive: true, force: true }));
}

/** A pid written to a file by the child that started it, once it is there. */
async function readPid(file: string): Promise<number> {
  for (let i = 0; i < 100; i++) {
    const text = (() => {
      try {
        return readFileSync(file, 'utf8').trim();
      } catch {
        return '';
      }
    })();
    if (/^\d+$/.test(text)) return Number(text);
    await sleep(20);
  }
  throw new Error(`no pid in ${file}`);
}

test(
  'a child ended by a signal exits with 128 + its number: SIGTERM is 143, SIGHUP 129',
  withTimeout(20_000, async () => {
    const term = await run('sh', ['-c', 'kill -TERM $$'], { allowFail: true });
    assert.equal(term, { code: 143, stdout: '', stderr: '' });
    const hup = await run(process.execPath, ['-e', 'process.kill(process.pid, "SIGHUP")'], { allowFail: true });
    assert.is(hup.code, 129);
    const failed = await failure(run('sh', ['-c', 'echo going >&2; kill -TERM $$']));
    assert.match(failed.message, /^sh exited with 143 \(SIGTERM\): going$/);

    // The two starters that stay on node:child_process say the same.
    await withDir(async (dir) => {
      const fd = openSync(join(dir, 'fg.log'), 'a');
      try {
        const fg = spawnForeground('sh', ['-c', 'kill -HUP $$'], { cwd: dir, env: process.env, fd });
        assert.is(await fg.exited, 129);
        const usr = spawnForeground('sh', ['-c', 'kill -USR1 $$'], { cwd: dir, env: process.env, fd });
        assert.is(await usr.exited, 128 + constants.signals.SIGUSR1);
      } finally {
        closeSync(fd);
      }
    });
  }),
);

test(
  'logFile: stdout and stderr are appended to the file, run after run, whatever the fd number',
  withTimeout(20_000, async () => {
    await withDir(async (dir) => {
      const log = join(dir, 'out.log');
      writeFileSync(log, 'before\n');
      // Push the log's fd past 9: execa's types name only 3 to 9, its spawn takes any.
      const held = Array.from({ length: 12 }, () => openSync(join(dir, 'filler'), 'a'));
      try {
        const first = await run('sh', ['-c', 'echo one; echo two >&2'], { logFile: log });
        assert.equal(first, { code: 0, stdout: '', stderr: '' }, 'nothing is captured');
        const second = await run('sh', ['-c', 'echo three; exit 4'], { logFile: log, allowFail: true });
        assert.is(second.code, 4);
      } finally {
        for (const fd of held) closeSync(fd);
      }
      assert.is(readFileSync(log, 'utf8'), 'before\none\ntwo\nthree\n');
    });
  }),
);

test(
  'the env given is the whole environment; without one the child gets ours',
  withTimeout(20_000, async () => {
    const script = 'process.stdout.write(JSON.stringify([process.env.LOPS_ONLY ?? null, process.env.HOME ?? null]))';
    const own = await run(process.execPath, ['-e', script], { env: { LOPS_ONLY: 'yes' } });
    assert.equal(JSON.parse(own.stdout), ['yes', null]);
    const ours = await run(process.execPath, ['-e', script]);
    assert.equal(JSON.parse(ours.stdout), [null, process.env.HOME ?? null]);
  }),
);

test(
  'a timeout with group ends the whole group it started, grandchildren too, and returns at once',
  withTimeout(20_000, async () => {
    await withDir(async (dir) => {
      const pidFile = join(dir, 'grandchild.pid');
      let leader = 0;
      const started = Date.now();
      const err = await failure(
        run('sh', ['-c', `sleep 60 & echo $! > ${pidFile}; wait`], {
          group: true,
          timeoutMs: 500,
          onStart: (pid) => (leader = pid),
        }),
      );
      assert.match(err.message, /^sh timed out after 1 s\.$|^sh timed out after 0 s\.$/);
      assert.ok(Date.now() - started < 2000, `returned after ${Date.now() - started} ms`);
      const grandchild = await readPid(pidFile);
      assert.ok(leader > 0, 'onStart told the pid');
      for (let i = 0; i < 50 && isGroupAlive(leader); i++) await sleep(20);
      assert.not.ok(isGroupAlive(leader), 'the group is gone');
      assert.not.ok(isAlive(grandchild), 'the grandchild is gone');
    });
  }),
);

test(
  'a timeout without group ends the child and does not wait for a grandchild that holds its pipes',
  withTimeout(20_000, async () => {
    await withDir(async (dir) => {
      const pidFile = join(dir, 'grandchild.pid');
      let child = 0;
      const started = Date.now();
      const err = await failure(
        run('sh', ['-c', `sleep 60 & echo $! > ${pidFile}; exec sleep 60`], {
          timeoutMs: 300,
          onStart: (pid) => (child = pid),
        }),
      );
      assert.match(err.message, /^sh timed out after 0 s\.$/);
      assert.ok(Date.now() - started < 1500, `returned after ${Date.now() - started} ms`);
      const grandchild = await readPid(pidFile);
      try {
        assert.not.ok(isAlive(child), 'the child is gone');
      } finally {
        killQuietly(grandchild, 'SIGKILL');
      }
    });
  }),
);

test(
  'a child that exits while its grandchild keeps the pipes open returns soon, with what it printed',
  withTimeout(20_000, async () => {
    await withDir(async (dir) => {
      const pidFile = join(dir, 'grandchild.pid');
      const started = Date.now();
      const r = await run('sh', ['-c', `sleep 60 & echo $! > ${pidFile}; echo done`]);
      const grandchild = await readPid(pidFile);
      killQuietly(grandchild, 'SIGKILL');
      assert.equal(r, { code: 0, stdout: 'done\n', stderr: '' });
      assert.ok(Date.now() - started < 3000, `returned after ${Date.now() - started} ms`);
    });
  }),
);

test(
  'spawnDetached starts a daemon in its own group, its output appended to the log',
  withTimeout(20_000, async () => {
    await withDir(async (dir) => {
      const log = join(dir, 'daemon.log');
      const pid = spawnDetached('sh', ['-c', 'echo up; echo err >&2; sleep 60'], {
        cwd: dir,
        env: process.env,
        logFile: log,
      });
      try {
        for (let i = 0; i < 100 && !readFileSync(log, 'utf8').includes('err'); i++) await sleep(20);
        assert.is(readFileSync(log, 'utf8'), 'up\nerr\n');
        assert.ok(isGroupAlive(pid), 'it leads its own group');
      } finally {
        killQuietly(-pid, 'SIGKILL');
      }
    });
  }),
);

test.run();
