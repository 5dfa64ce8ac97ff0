/**
 * Notifications (DESIGN §11): a notify-send stand-in on PATH records its arguments. One
 * call when main is held back, none while it stays held back (the same main again, or
 * another broken one), one when it recovers, none with --no-notify. Text from the failing
 * server reaches it as data: shell syntax in it runs nothing.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { e2e } from '../../helpers/e2e.js';
import { waitFor, type Fixture } from '../../helpers/fixture.js';
import { isAlive, killQuietly } from '../../helpers/proc.js';
import { SERVER_JS } from '../../helpers/site.js';

const notify = suite('manage: notify');

/** A notify-send that appends its argv, as one JSON line, to calls.jsonl. */
function installStandIn(fx: Fixture): { env: NodeJS.ProcessEnv; calls: () => string[][] } {
  const bin = join(fx.root, 'notify-bin');
  mkdirSync(bin, { recursive: true });
  const record = join(fx.root, 'calls.jsonl');
  writeFileSync(
    join(bin, 'notify-send'),
    `#!${process.execPath}\nrequire('node:fs').appendFileSync(${JSON.stringify(record)}, JSON.stringify(process.argv.slice(2)) + '\\n');\n`,
  );
  chmodSync(join(bin, 'notify-send'), 0o755);
  return {
    env: { PATH: `${bin}:${process.env.PATH ?? ''}` },
    calls: () =>
      existsSync(record)
        ? readFileSync(record, 'utf8')
            .trim()
            .split('\n')
            .map((l) => JSON.parse(l) as string[])
        : [],
  };
}

const HOSTILE = 'boom $(touch PWNED) `touch PWNED2` "quoted" \'single\'; touch PWNED3';

e2e(
  notify,
  'one notification per change into rolled-back and back, none on a repeated failure, none with --no-notify',
  async (fx) => {
    const standIn = installStandIn(fx);
    const r = await fx.cli(fx.installArgs({ name: 'site' }), standIn.env);
    assert.is(r.code, 0, r.stdout + r.stderr);
    assert.equal(standIn.calls(), [], 'a fine first install notifies nothing');
    // Only the syncs below, run with the stand-in on PATH: the sync agent (woken by their
    // fetches) would otherwise race them to each new main, with the jobs' own PATH.
    await fx.waitForSyncs(2);
    const agent = Number(readFileSync(join(fx.siteDir(), 'run', 'sync.pid'), 'utf8'));
    killQuietly(agent, 'SIGTERM');
    await waitFor(() => !isAlive(agent), 10_000, 'the sync agent to stop');
    const sync = async () => {
      const s = await fx.cli(['sync', '--json'], standIn.env);
      return (JSON.parse(s.stdout) as { status: string }).status;
    };

    const bad = await fx.push({
      CRASH: 'yes\n',
      'server.js': SERVER_JS.replace("'boom: CRASH marker present'", JSON.stringify(HOSTILE)),
    });
    assert.is(await sync(), 'rolled-back');
    let calls = standIn.calls();
    assert.is(calls.length, 1, JSON.stringify(calls));
    const [held] = calls;
    assert.is(held[0], '--app-name=localhost-ops');
    assert.is(held[1], '--');
    assert.match(held[2], new RegExp(`^site: main ${bad.slice(0, 7)} held back$`));
    // The message is cut at 200 characters; what it holds of the server's words is as they were.
    assert.ok(held[3].includes('boom $(touch PWNED) `touch PWNED2` "quoted"'), held[3]);
    assert.ok(held[3].length < 300, held[3]);
    for (const f of ['PWNED', 'PWNED2', 'PWNED3']) {
      assert.not.ok(existsSync(join(fx.root, f)), `${f} was not created`);
      assert.not.ok(existsSync(join(fx.siteDir(), f)), `${f} was not created`);
    }

    // Held back again (the same main), then another broken main: still rolled-back, no call.
    assert.is(await sync(), 'rolled-back');
    await fx.push({ 'content.txt': 'still broken\n' });
    assert.is(await sync(), 'rolled-back');
    assert.is(standIn.calls().length, 1, JSON.stringify(standIn.calls()));

    // Fixed: one call saying it is back; the noop after it says nothing.
    await fx.push({ CRASH: null, 'server.js': SERVER_JS, 'content.txt': 'fixed\n' });
    assert.is(await sync(), 'updated');
    assert.is(await sync(), 'noop');
    calls = standIn.calls();
    assert.is(calls.length, 2, JSON.stringify(calls));
    assert.match(calls[1][2], /^site: back on main$/);
    assert.match(calls[1][3], new RegExp(`^Serving [0-9a-f]{7} at http://127\\.0\\.0\\.1:${fx.port}/\\.$`));

    // --no-notify: the next break is silent.
    const off = await fx.cli(['install', '--name', 'site', '--no-notify'], standIn.env);
    assert.is(off.code, 0, off.stdout + off.stderr);
    await fx.push({ CRASH: 'yes\n' });
    assert.is(await sync(), 'rolled-back');
    assert.is(standIn.calls().length, 2, JSON.stringify(standIn.calls()));
  },
  { timeoutMs: 240_000 },
);

notify.run();
