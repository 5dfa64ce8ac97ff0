/** `run` in a terminal (a pty from script(1)): the URL, then the server log as it is written. */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { e2e } from '../../helpers/e2e.js';
import { BIN, waitFor } from '../../helpers/fixture.js';
import { killQuietly } from '../../helpers/proc.js';

const terminal = suite('run in a terminal');

e2e(terminal, 'prints the URL and follows the server log; a stop signal ends it with 0', async (fx) => {
  const r = await fx.cli(fx.installArgs());
  assert.is(r.code, 0, r.stdout + r.stderr);
  await fx.waitForSyncs(2);
  // The server job gives the port back; `run` by hand takes it.
  const agent = Number(readFileSync(join(fx.siteDir(), 'run', 'server.pid'), 'utf8'));
  killQuietly(agent, 'SIGTERM');
  await waitFor(async () => !(await fx.isUp()), 15_000, 'the server job to stop');
  const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  const child = spawn(
    'script',
    ['-qfec', `${q(process.execPath)} ${q(BIN)} run --name site; echo "exit=$?"`, '/dev/null'],
    {
      cwd: fx.root,
      env: { ...fx.env, TERM: 'xterm' },
    },
  );
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  const done = new Promise<void>((resolve) => child.on('close', () => resolve()));
  await waitFor(() => out.includes(`localhost-ops: serving site at http://127.0.0.1:${fx.port}/`), 15_000, 'the URL');
  await waitFor(() => /\[a [0-9a-f]{7}\] listening on 127\.0\.0\.1:\d+/.test(out), 20_000, "the dev server's own line");
  assert.is((await fx.get()).body, 'site says: hello from main\n');
  const runPid = Number(
    /\[agent\] pid (\d+) holds/.exec(
      readFileSync(join(fx.siteDir(), 'logs', 'server.log'), 'utf8')
        .split('\n')
        .reverse()
        .join('\n'),
    )?.[1],
  );
  killQuietly(runPid, 'SIGTERM');
  await done;
  assert.match(out, /exit=0/);
});

terminal.run();
