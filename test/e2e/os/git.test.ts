/**
 * The git layer against real repos (src/os/git.ts): simple-git's traps handled there, its
 * failures as GitError kinds, and a timeout that ends git's whole process group.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { simpleGit } from 'simple-git';
import * as git from '../../../src/os/git.js';
import { GitError } from '../../../src/errors.js';
import { e2e } from '../../helpers/e2e.js';
import { ROOT, sh, waitFor, withTimeout } from '../../helpers/fixture.js';
import { getFreePort, sleep } from '../../helpers/proc.js';

async function gitFailure(p: Promise<unknown>): Promise<GitError> {
  try {
    await p;
  } catch (err) {
    assert.instance(err, GitError);
    return err as GitError;
  }
  throw new Error('expected a GitError');
}

/** Pids of the processes whose command line mentions text (git fetch, git-remote-http). */
function processesMentioning(text: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) continue;
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(text)) pids.push(Number(entry));
    } catch {
      // gone
    }
  }
  return pids;
}

/** A forge that accepts connections and never answers a byte. */
async function startSilentForge(): Promise<{ url: string; close: () => Promise<void> }> {
  const sockets: Socket[] = [];
  const server: Server = createServer((s) => {
    sockets.push(s);
    s.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/site.git`,
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

e2e(
  test,
  'fetchBranch fetches the remote it is given; a branch the forge lacks is a GitError of kind no-such-ref',
  async (fx) => {
    const pushed = await fx.push({ 'content.txt': 'second\n' });
    await git.fetchBranch(fx.canonical, 'origin', 'main');
    assert.is(await git.getRefSha(fx.canonical, 'refs/remotes/origin/main'), pushed);

    // Another remote with another main: the remote argument is not dropped (simple-git's fetch('x') trap).
    const other = join(fx.root, 'other.git');
    await sh(fx.root, 'git', ['init', '-q', '--bare', '-b', 'main', other]);
    await fx.push({ 'content.txt': 'only on the other forge\n' }, 'elsewhere');
    await sh(fx.upstream, 'git', ['push', '-q', other, 'HEAD:main']);
    const otherSha = await sh(fx.upstream, 'git', ['rev-parse', 'HEAD']);
    await sh(fx.canonical, 'git', ['remote', 'add', 'other', other]);
    await git.fetchBranch(fx.canonical, 'other', 'main');
    assert.is(await git.getRefSha(fx.canonical, 'refs/remotes/other/main'), otherSha);

    const err = await gitFailure(git.fetchBranch(fx.canonical, 'origin', 'no-such-branch'));
    assert.is(err.kind, 'no-such-ref');
    assert.is(err.code, 128);
    assert.match(err.message, /^git fetch origin no-such-branch failed: fatal: couldn't find remote ref/);
    assert.ok(err.args.includes('origin'), err.args.join(' '));
    assert.match(err.stderr, /couldn't find remote ref refs\/heads\/no-such-branch/);
  },
  { timeoutMs: 60_000 },
);

e2e(
  test,
  'a forge nobody answers for is a GitError of kind unreachable',
  async (fx) => {
    const port = await getFreePort();
    await sh(fx.canonical, 'git', ['remote', 'add', 'refused', `http://127.0.0.1:${port}/site.git`]);
    const refused = await gitFailure(git.fetchBranch(fx.canonical, 'refused', 'main'));
    assert.is(refused.kind, 'unreachable');
    assert.match(refused.message, /^git fetch refused main failed: fatal: unable to access/);

    await sh(fx.canonical, 'git', ['remote', 'add', 'gone', join(fx.root, 'gone.git')]);
    const gone = await gitFailure(git.fetchBranch(fx.canonical, 'gone', 'main'));
    assert.is(gone.kind, 'unreachable');

    const lsRemote = await gitFailure(git.lsRemote(fx.canonical, 'refused', 'main', 10_000));
    assert.is(lsRemote.kind, 'unreachable');
    assert.match(lsRemote.message, /^git ls-remote exited with 128: /);
  },
  { timeoutMs: 60_000 },
);

e2e(
  test,
  "a timeout ends git's whole process group, its http helper included, and returns at once",
  async (fx) => {
    const forge = await startSilentForge();
    try {
      await sh(fx.canonical, 'git', ['remote', 'add', 'hung', forge.url]);
      let most = 0;
      let watch = true;
      const watching = (async () => {
        while (watch) {
          most = Math.max(most, processesMentioning(forge.url).length);
          await sleep(50);
        }
      })();
      const started = Date.now();
      const err = await gitFailure(git.fetchBranch(fx.canonical, 'hung', 'main', 1500));
      const took = Date.now() - started;
      watch = false;
      await watching;
      assert.ok(most >= 2, `git fetch and its http helper ran (${most} seen)`);
      assert.is(err.kind, 'timeout');
      assert.is(err.message, 'git fetch timed out after 2 s.');
      assert.ok(took >= 1400 && took < 1500 + 2000, `returned after ${took} ms`);
      await waitFor(() => processesMentioning(forge.url).length === 0, 2000, 'git and its helper to be gone');

      const lsStarted = Date.now();
      const ls = await gitFailure(git.lsRemote(fx.canonical, 'hung', 'main', 1000));
      assert.is(ls.kind, 'timeout');
      assert.ok(Date.now() - lsStarted < 1000 + 2000, `ls-remote returned after ${Date.now() - lsStarted} ms`);
      await waitFor(() => processesMentioning(forge.url).length === 0, 2000, 'ls-remote and its helper to be gone');
    } finally {
      await forge.close();
    }
  },
  { timeoutMs: 60_000 },
);

/** Starts `node -e script` (ESM, TypeScript through tsx); resolves with its signal or exit code. */
function startNode(script: string): {
  pid: number;
  ended: Promise<NodeJS.Signals | number | null>;
  kill: (s: NodeJS.Signals) => void;
} {
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    cwd: ROOT,
    stdio: 'ignore',
  });
  const ended = new Promise<NodeJS.Signals | number | null>((resolve) =>
    child.on('exit', (code, signal) => resolve(signal ?? code)),
  );
  return { pid: child.pid ?? -1, ended, kill: (s) => child.kill(s) };
}

e2e(
  test,
  'git running for a process that gets SIGTERM or SIGINT ends with it (its own group is out of reach of a signal to ours)',
  async (fx) => {
    const forge = await startSilentForge();
    const gitTs = JSON.stringify(join(ROOT, 'src', 'os', 'git.ts'));
    const execTs = JSON.stringify(join(ROOT, 'src', 'os', 'exec.ts'));
    const fetch = `g.fetchBranch(${JSON.stringify(fx.canonical)}, 'hung', 'main', 60000)`;
    const marker = join(fx.root, 'sleep-marker');
    try {
      await sh(fx.canonical, 'git', ['remote', 'add', 'hung', forge.url]);
      // Alone on the signal: it ends git and dies by the signal.
      const alone = startNode(`const g = await import(${gitTs}); await ${fetch};`);
      try {
        await waitFor(() => processesMentioning(forge.url).length >= 2, 20_000, 'git fetch and its helper');
        alone.kill('SIGTERM');
        assert.is(await alone.ended, 'SIGTERM', 'it still dies by the signal');
        await waitFor(() => processesMentioning(forge.url).length === 0, 2000, 'git and its helper to be gone');
      } finally {
        alone.kill('SIGKILL');
      }

      // With an execa child in flight too, signal-exit listens as well: still one of them dies by it.
      const both = startNode(
        `const g = await import(${gitTs}); const e = await import(${execTs});
        await Promise.all([${fetch}, e.run(process.execPath, ['-e', 'setTimeout(() => {}, 60000)', ${JSON.stringify(marker)}])]);`,
      );
      try {
        await waitFor(() => processesMentioning(forge.url).length >= 2, 20_000, 'git fetch and its helper');
        // The node script's own command line names the marker too.
        await waitFor(() => processesMentioning(marker).length >= 2, 20_000, 'the execa child');
        both.kill('SIGINT');
        assert.is(await both.ended, 'SIGINT');
        await waitFor(() => processesMentioning(forge.url).length === 0, 2000, 'git and its helper to be gone');
        await waitFor(() => processesMentioning(marker).length === 0, 2000, 'the execa child to be gone');
      } finally {
        both.kill('SIGKILL');
      }
    } finally {
      await forge.close();
    }
  },
  { timeoutMs: 60_000 },
);

e2e(
  test,
  'a git that fails with nothing on stderr is an error, not an empty answer',
  async (fx) => {
    const args = ['rev-parse', '--verify', '--quiet', 'refs/heads/no-such-branch'];
    // The trap itself: simple-git resolves "" for an exit of 1 that printed nothing.
    assert.is(await simpleGit(fx.canonical).raw(args), '');

    const err = await gitFailure(git.git(fx.canonical, args));
    assert.is(err.code, 1);
    assert.is(err.stderr, '');
    assert.is(err.message, 'git rev-parse exited with 1.');
    assert.equal(await git.git(fx.canonical, args, { allowFail: true }), { code: 1, stdout: '', stderr: '' });
    assert.is(await git.getRefSha(fx.canonical, 'refs/heads/no-such-branch'), null);

    writeFileSync(join(fx.canonical, 'content.txt'), 'edited\n');
    const diff = await gitFailure(git.git(fx.canonical, ['diff', '--quiet']));
    assert.is(diff.code, 1);
    assert.is(await git.showFile(fx.canonical, 'HEAD', 'no-such-file'), null);
  },
  { timeoutMs: 60_000 },
);

e2e(
  test,
  'status, heads and files read through simple-git; hooks never run; a git hook environment does not move it',
  async (fx) => {
    const head = await sh(fx.canonical, 'git', ['rev-parse', 'HEAD']);
    assert.equal(await git.getDirtyPaths(fx.canonical), []);
    assert.equal(await git.getMirrorHead(fx.canonical, 'refs/remotes/origin/main'), {
      head,
      also: head,
      branchRef: 'refs/heads/main',
    });
    mkdirSync(join(fx.canonical, 'deep', 'er'), { recursive: true });
    assert.is(await git.getRepoTop(join(fx.canonical, 'deep', 'er')), fx.canonical);
    assert.ok(await git.hasRemote(fx.canonical, 'origin'));
    assert.not.ok(await git.hasRemote(fx.canonical, 'nope'));
    assert.is(
      await git.showFile(fx.canonical, head, 'content.txt'),
      readFileSync(join(fx.upstream, 'content.txt'), 'utf8'),
    );

    writeFileSync(join(fx.canonical, 'content.txt'), 'edited\n');
    writeFileSync(join(fx.canonical, 'stray.txt'), 'new\n');
    assert.equal(await git.getDirtyPaths(fx.canonical), [' M content.txt', '?? stray.txt']);

    // The user's hooks are theirs: a fetch that moves a ref runs no reference-transaction hook.
    const hook = join(fx.canonical, '.git', 'hooks', 'reference-transaction');
    writeFileSync(hook, `#!/bin/sh\ntouch ${join(fx.root, 'hook-ran')}\n`);
    chmodSync(hook, 0o755);
    const pushed = await fx.push({ 'content.txt': 'third\n' });
    await git.fetchBranch(fx.canonical, 'origin', 'main');
    assert.is(await git.getRefSha(fx.canonical, 'refs/remotes/origin/main'), pushed);
    assert.not.ok(existsSync(join(fx.root, 'hook-ran')), 'the hook did not run');

    // Run from a git hook, GIT_DIR names another repo: each call still works on its own folder.
    const saved = process.env.GIT_DIR;
    process.env.GIT_DIR = fx.forge;
    try {
      assert.equal(await git.getDirtyPaths(fx.canonical), [' M content.txt', '?? stray.txt']);
    } finally {
      if (saved === undefined) delete process.env.GIT_DIR;
      else process.env.GIT_DIR = saved;
    }
  },
  { timeoutMs: 60_000 },
);

test(
  'a missing folder is named in the sentence',
  withTimeout(10_000, async () => {
    const err = await gitFailure(git.getRepoTop('/nonexistent/clone'));
    assert.is(err.message, 'git rev-parse could not run: the folder /nonexistent/clone does not exist.');
    assert.is(err.fix, 'Check that the folder was not moved or deleted.');
  }),
);

test.run();
