/**
 * pause / resume (DESIGN §11): a paused site's sync agent keeps running but syncs nothing,
 * across several intervals and a canonical repo that moves; its live slot keeps serving; a
 * manual sync exits 2 naming resume; doctor warns; resume serves main at once. A second
 * site, not paused, follows main all along.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { e2e } from '../../helpers/e2e.js';
import { waitFor } from '../../helpers/fixture.js';
import { getFreePort, httpGet } from '../../helpers/proc.js';

const pause = suite('manage: pause');
const INTERVAL = 10;

e2e(
  pause,
  'pause holds a pushed commit back across two sync intervals while the other site follows; resume serves it',
  async (fx) => {
    const interval = String(INTERVAL);
    const r1 = await fx.cli(fx.installArgs({ name: 'site', interval }));
    assert.is(r1.code, 0, r1.stdout + r1.stderr);
    const otherPort = await getFreePort();
    const r2 = await fx.cli(fx.installArgs({ name: 'other', port: String(otherPort), interval }));
    assert.is(r2.code, 0, r2.stdout + r2.stderr);
    await fx.waitForSyncs(2, 'site');

    const p = await fx.cli(['pause', '--name', 'site']);
    assert.is(p.code, 0, p.stderr);
    assert.match(p.stdout, /Paused "site": it keeps serving [0-9a-f]{7} .*localhost-ops resume --name site/);
    const again = await fx.cli(['pause', '--name', 'site']);
    assert.is(again.code, 0);
    assert.match(again.stdout, /already paused/);
    const served = fx.record('site')?.sha;
    const syncsAtPause = fx.countSyncs('site');

    const pushed = await fx.push({ 'content.txt': 'while paused\n' });
    // The other site follows main; its fetches move the canonical repo's ref, which wakes
    // the paused agent too, and it still syncs nothing.
    await waitFor(
      async () => (await httpGet('127.0.0.1', otherPort, '/', 2000)).body === 'site says: while paused\n',
      3 * INTERVAL * 1000,
      'the other site to serve the push',
    );
    await new Promise((r) => setTimeout(r, 2 * INTERVAL * 1000 + 2000));
    assert.is((await fx.get()).body, 'site says: hello from main\n');
    assert.is(fx.record('site')?.sha, served);
    assert.is(fx.countSyncs('site'), syncsAtPause, 'no sync ran while paused');
    assert.match(fx.readLog('site'), /agent: paused: following main no more until localhost-ops resume --name site/);

    const manual = await fx.cli(['sync', '--name', 'site']);
    assert.is(manual.code, 2);
    assert.match(manual.stderr, /"site" is paused.*Run localhost-ops resume --name site/);
    const manualJson = await fx.cli(['sync', '--name', 'site', '--json']);
    assert.is(manualJson.code, 2);
    assert.match(
      (JSON.parse(manualJson.stdout) as { error: string; fix: string }).fix,
      /localhost-ops resume --name site/,
    );

    const doctor = await fx.cli(['doctor', '--name', 'site', '--json', '--no-network']);
    const report = JSON.parse(doctor.stdout) as { checks: { id: string; status: string; fix: string }[] };
    const lastSync = report.checks.find((c) => c.id === 'last-sync');
    assert.is(lastSync?.status, 'warn');
    assert.match(lastSync?.fix ?? '', /localhost-ops resume --name site/);
    assert.is(doctor.code, 0, doctor.stdout);

    const status = JSON.parse((await fx.cli(['status', '--json'])).stdout) as {
      sites: { name: string; paused: boolean; jobs: { sync: boolean } }[];
    };
    assert.equal(
      status.sites.map((s) => [s.name, s.paused, s.jobs.sync]),
      [
        ['other', false, true],
        ['site', true, true],
      ],
    );

    const resumed = await fx.cli(['resume', '--name', 'site']);
    assert.is(resumed.code, 0, resumed.stderr);
    // Sooner than an interval: the agent watches config.json.
    await waitFor(
      async () => (await fx.get()).body === 'site says: while paused\n',
      INTERVAL * 1000 - 1000,
      'the resumed site to serve the push',
    );
    assert.is(fx.record('site')?.sha, pushed);
    assert.match(fx.readLog('site'), /agent: resumed: following main again/);
  },
  { timeoutMs: 240_000 },
);

pause.run();
