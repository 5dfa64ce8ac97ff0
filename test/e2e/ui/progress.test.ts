/**
 * The spinner in a real terminal (a pty from script(1)): none in a terminal of unknown
 * width, and a stop signal ends the command while it spins.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { e2e } from '../../helpers/e2e.js';
import { BIN, sh, waitFor } from '../../helpers/fixture.js';
import { packageJson } from '../../helpers/site.js';
import { isAlive, killQuietly } from '../../helpers/proc.js';

const tty = suite('progress in a terminal');

function inTerminal(fx: { root: string; env: NodeJS.ProcessEnv }, shell: string) {
  const child = spawn('script', ['-qfec', shell, '/dev/null'], { cwd: fx.root, env: { ...fx.env, TERM: 'xterm' } });
  let out = '';
  child.stdout.setEncoding('latin1').on('data', (d: string) => (out += d));
  const done = new Promise<number>((resolve) => child.on('close', (code) => resolve(code ?? -1)));
  return { child, done, output: () => out };
}

/** The pid of our CLI running `command` under the fixture. */
function findCli(command: string): number | null {
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const argv = readFileSync(`/proc/${e}/cmdline`, 'utf8').split('\0');
      if (argv.includes(BIN) && argv.includes(command) && !argv.includes('--watch')) return Number(e);
    } catch {
      // gone
    }
  }
  return null;
}

const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

e2e(tty, 'a terminal of unknown width gets no spinner, and the command still finishes', async (fx) => {
  const args = fx.installArgs().map(q).join(' ');
  const t = inTerminal(fx, `stty cols 0; ${q(process.execPath)} ${q(BIN)} ${args}`);
  assert.is(await t.done, 0, t.output());
  assert.match(t.output(), /Serving main [0-9a-f]{7}/);
  // ora's frames redraw the line with ESC[ codes (erase line, cursor moves): none at all here.
  assert.not.match(t.output(), /\x1b\[(2K|1G|\?25l)/, 'no spinner escape codes');
});

e2e(tty, 'SIGTERM during the spinner ends the command at once, with 143, and its npm ci with it', async (fx) => {
  // The tiny site installs in about a second, too short a window to signal it in reliably
  // (CI once missed it): a postinstall that waits keeps install spinning inside npm ci.
  const waiter = join(fx.root, 'npm-ci-waiting');
  await fx.push({
    'package.json': packageJson({
      scripts: {
        dev: 'node server.js',
        postinstall: `node -e "require('fs').writeFileSync(process.argv[1], String(process.pid)); setTimeout(() => {}, 120000)" ${q(waiter)}`,
      },
    }),
  });
  await sh(fx.canonical, 'git', ['pull', '-q']);
  const args = fx.installArgs().map(q).join(' ');
  const t = inTerminal(fx, `stty cols 100; ${q(process.execPath)} ${q(BIN)} ${args}; echo "exit=$?"`);
  let pid: number | null = null;
  // On a miss, say what the terminal showed: the waiting alone does not tell why.
  await waitFor(
    () => (pid = findCli('install')) !== null && /\x1b\[/.test(t.output()) && existsSync(waiter),
    60_000,
    'install to spin inside npm ci',
  ).catch((e: Error) => {
    throw new Error(`${e.message}; the terminal showed:\n${t.output().slice(-2000)}`);
  });
  const npmChild = Number(readFileSync(waiter, 'utf8'));
  killQuietly(pid as unknown as number, 'SIGTERM');
  await waitFor(() => !isAlive(pid as unknown as number), 5000, 'install to end');
  await t.done;
  assert.match(t.output(), /exit=143/);
  await waitFor(() => !isAlive(npmChild), 5000, "npm ci's postinstall to end with install");
});

tty.run();
