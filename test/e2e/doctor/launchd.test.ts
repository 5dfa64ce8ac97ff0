/** doctor on the launchd backend, through the launchctl stand-in: healthy, then a hand-edited plist. */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync, writeFileSync } from 'node:fs';
import { parse, build } from 'plist';
import { createFixture, withTimeout, type Fixture } from '../../helpers/fixture.js';
import { standinEnv, stopStandin } from '../../helpers/launchctl-standin.js';
import { getAgentPath } from '../../../src/service/launchd/index.js';
import { assertFault, assertHealthy, check, doctorJson, runFixCommand } from '../../helpers/inject.js';

const T = 180_000;

const launchd = suite('doctor: the launchd backend through the launchctl stand-in');
let lx: Fixture | null = null;
const env = standinEnv();

launchd.after(async () => {
  if (!lx) return;
  await stopStandin(lx.home);
  await lx.cleanup();
});

launchd(
  'healthy on launchd; a hand-edited plist is drift, named key by key; the install the fix names repairs it',
  withTimeout(T, async () => {
    lx = await createFixture('doctor on launchd');
    const r = await lx.cli(lx.installArgs({ service: 'launchd' }), env);
    assert.is(r.code, 0, r.stdout + r.stderr);
    await lx.waitForSyncs(2);
    const healthy = await doctorJson(lx, [], env);
    assertHealthy(healthy.doc, healthy.code);
    assert.match(check(healthy.doc, 'service').summary, /server job running, pid \d+ \(launchd backend\)/);

    const plist = getAgentPath('localhost-ops.site.server', lx.home);
    const agent = parse(readFileSync(plist, 'utf8')) as Record<string, unknown>;
    (agent.EnvironmentVariables as Record<string, string>).NODE_OPTIONS = '--inspect';
    agent.ThrottleInterval = 1;
    writeFileSync(plist, build(agent as Parameters<typeof build>[0]));
    const { code, doc } = await doctorJson(lx, [], env);
    const c = assertFault(doc, code, {
      id: 'service',
      status: 'warn',
      fix: /localhost-ops install --repo ~\/dev\/site --name site .*--service launchd/,
    });
    assert.match(c.summary, /the installed server job definition differs from what install would write now/);
    assert.match(c.detail ?? '', /server: EnvironmentVariables\.NODE_OPTIONS: --inspect → \(none\)/);
    assert.match(c.detail ?? '', /server: ThrottleInterval: 1 → 10/);

    // A no-op sync leaves job definitions alone; the command doctor names puts it right.
    const text = await lx.cli(['doctor'], env);
    const next = /^Next: (.*)$/m.exec(text.stdout)?.[1] ?? '';
    const fixed = await runFixCommand(lx, next, env);
    assert.is(fixed.code, 0, fixed.stdout + fixed.stderr);
    assert.not.match(readFileSync(plist, 'utf8'), /NODE_OPTIONS/);
    const after = await doctorJson(lx, [], env);
    assertHealthy(after.doc, after.code);
  }),
);

launchd.run();
