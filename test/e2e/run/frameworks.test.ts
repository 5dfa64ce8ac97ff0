/**
 * Every common framework is served with no --command (DESIGN §10): the dev script is read, the
 * framework's own host and port flags are passed, and a server that listens anywhere else is
 * the command's fault, not main's. Stand-in CLIs (test/helpers/frameworks.ts) accept only their
 * real flags; Vite is the real one, from the registry, cached across runs.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { e2e } from '../../helpers/e2e.js';
import { waitFor, type Fixture } from '../../helpers/fixture.js';
import { check, describe, doctorJson } from '../../helpers/inject.js';
import {
  STAND_INS,
  crossEnvPackage,
  pushStandInSite,
  pushViteSite,
  standInPackage,
  viteIndexHtml,
  type StandIn,
  type Vendored,
} from '../../helpers/frameworks.js';

const frameworks = suite('frameworks');

interface SlotState {
  phase: string;
  sha: string | null;
  port: number | null;
  command: string | null;
  framework: string | null;
}

function liveSlot(fx: Fixture): SlotState {
  const state = JSON.parse(readFileSync(join(fx.siteDir(), 'run', 'server.json'), 'utf8')) as {
    live: 'a' | 'b' | null;
    slots: Record<'a' | 'b', SlotState>;
  };
  assert.ok(state.live, 'no slot is live');
  return state.slots[state.live as 'a' | 'b'];
}

/** install with no --command, then waits for the sync agent's first sync, as a user's next minute would. */
async function install(fx: Fixture, over: Record<string, string> = {}): Promise<void> {
  const r = await fx.cli(fx.installArgs(over));
  assert.is(r.code, 0, `install failed:\n${r.stdout}${r.stderr}\n--- server.log:\n${fx.readLog('site', 'server.log')}`);
  const config = JSON.parse(readFileSync(join(fx.siteDir(), 'config.json'), 'utf8')) as { command: string };
  assert.is(config.command, 'auto');
  await fx.waitForSyncs(2);
}

async function syncJson(fx: Fixture): Promise<{ code: number; out: Record<string, string> }> {
  const r = await fx.cli(['sync', '--json']);
  assert.ok(r.stdout.trim().startsWith('{'), `sync --json printed: ${r.stdout}${r.stderr}`);
  return { code: r.code, out: JSON.parse(r.stdout) as Record<string, string> };
}

/** doctor's `framework` check passes and names the framework and the command it ran. */
async function assertDoctorNames(fx: Fixture, title: string, flags: string): Promise<void> {
  const { doc } = await doctorJson(fx, ['--name', 'site']);
  const c = check(doc, 'framework');
  assert.is(c.status, 'ok', describe(doc));
  assert.ok(c.summary.startsWith(`${title}: `), c.summary);
  assert.ok(c.summary.includes(`npm run dev -- ${flags}`), c.summary);
}

/** The site is served through the front door by the stand-in, started with exactly its flags and §9's environment. */
async function assertStandInServes(
  fx: Fixture,
  s: StandIn,
  flags: (host: string, port: number) => string,
): Promise<void> {
  const live = liveSlot(fx);
  assert.is(live.phase, 'healthy');
  const port = live.port as number;
  assert.ok(port > 0 && port !== fx.port, `inner port ${port}`);
  const page = await fx.get('/');
  assert.is(page.status, 200, page.body);
  assert.ok(page.body.startsWith(`${s.title} dev server (stand-in) on 127.0.0.1:${port}\n`), page.body);
  assert.ok(page.body.includes(`\nargv: ${s.sub} ${flags('127.0.0.1', port)}\n`), page.body);
  for (const kv of ['NO_COLOR=1', 'FORCE_COLOR=0', 'BROWSER=none', 'ASTRO_DEV_BACKGROUND=0', `PORT=${port}`]) {
    assert.ok(page.body.includes(` ${kv}`), `${kv} missing: ${page.body}`);
  }
}

// One site per framework: its dev script as its docs write it, the flags it must get.
const CASES: { s: StandIn; flags: (host: string, port: number) => string }[] = [
  { s: STAND_INS.next, flags: (h, p) => `--hostname ${h} --port ${p}` },
  { s: STAND_INS.nuxt, flags: (h, p) => `--host ${h} --port ${p}` },
  { s: STAND_INS.docusaurus, flags: (h, p) => `--host ${h} --port ${p} --no-open` },
  { s: STAND_INS.gatsby, flags: (h, p) => `--host ${h} --port ${p}` },
  { s: STAND_INS.astro, flags: (h, p) => `--host ${h} --port ${p}` },
];

for (const { s, flags } of CASES) {
  e2e(frameworks, `\`${s.bin} ${s.sub}\` is served with no --command, with ${s.title}'s own flags`, async (fx) => {
    await pushStandInSite(fx, `${s.bin} ${s.sub}`, [standInPackage(s)]);
    await install(fx);
    await assertStandInServes(fx, s, flags);
    await assertDoctorNames(fx, s.title, flags('127.0.0.1', liveSlot(fx).port as number));
  });
}

e2e(frameworks, 'a wrapped dev script (`cross-env NODE_ENV=development next dev`) gets Next.js flags', async (fx) => {
  const next = STAND_INS.next;
  const packages: Vendored[] = [standInPackage(next), crossEnvPackage()];
  await pushStandInSite(fx, 'cross-env NODE_ENV=development next dev', packages);
  await install(fx);
  const flags = (h: string, p: number): string => `--hostname ${h} --port ${p}`;
  await assertStandInServes(fx, next, flags);
  // cross-env really ran in between: it set NODE_ENV for next.
  assert.match((await fx.get('/')).body, / NODE_ENV=development /);
  await assertDoctorNames(fx, next.title, flags('127.0.0.1', liveSlot(fx).port as number));
});

e2e(frameworks, 'a wrapped dev script (`npx gatsby develop`) gets Gatsby flags', async (fx) => {
  const gatsby = STAND_INS.gatsby;
  await pushStandInSite(fx, 'npx gatsby develop', [standInPackage(gatsby)]);
  await install(fx);
  const flags = (h: string, p: number): string => `--host ${h} --port ${p}`;
  await assertStandInServes(fx, gatsby, flags);
  await assertDoctorNames(fx, gatsby.title, flags('127.0.0.1', liveSlot(fx).port as number));
});

// ------------------------------------------------------------------- a real Vite

/** The page through the front door is Vite's (its client script injected) and names the marker. */
async function assertViteServes(fx: Fixture, marker: string): Promise<void> {
  const page = await fx.get('/');
  assert.is(page.status, 200, page.body);
  assert.ok(page.body.includes(`<h1 id="marker">${marker}</h1>`), page.body);
  assert.ok(page.body.includes('/@vite/client'), `not transformed by Vite: ${page.body}`);
}

e2e(
  frameworks,
  'a real Vite site is served with no --command, and follows main',
  async (fx) => {
    await pushViteSite(fx, 'vite site: first');
    await install(fx);
    await assertViteServes(fx, 'vite site: first');
    const port = liveSlot(fx).port as number;
    // Vite itself says where it listens: the inner port, as told.
    assert.match(fx.readLog('site', 'server.log'), new RegExp(`Local: +http://127\\.0\\.0\\.1:${port}/`));
    await assertDoctorNames(fx, 'Vite', `--host 127.0.0.1 --port ${port} --strictPort`);

    const second = await fx.push({ 'index.html': viteIndexHtml('vite site: second') });
    const { code, out } = await syncJson(fx);
    assert.is(code, 0, JSON.stringify(out));
    assert.is(out.status, 'updated');
    assert.is(out.sha, second);
    await assertViteServes(fx, 'vite site: second');
    assert.not.ok((await fx.get('/')).body.includes('vite site: first'));
  },
  { timeoutMs: 240_000 },
);

/** Listens on Vite's default port if it is free; if another program has it already, that is the same test. */
async function holdViteDefaultPort(): Promise<Server | null> {
  const server = createServer((_req, res) => res.end('another program on 5173\n'));
  return new Promise((resolve) => {
    server.once('error', () => resolve(null));
    server.listen(5173, '127.0.0.1', () => resolve(server));
  });
}

e2e(
  frameworks,
  "a Vite site with another program on Vite's port 5173 is still served from its inner port",
  async (fx) => {
    const held = await holdViteDefaultPort();
    try {
      await pushViteSite(fx, 'vite beside 5173');
      await install(fx);
      await assertViteServes(fx, 'vite beside 5173');
      const live = liveSlot(fx);
      assert.ok(live.port !== 5173, `Vite was put on 5173`);
      const log = fx.readLog('site', 'server.log');
      assert.match(log, new RegExp(`Local: +http://127\\.0\\.0\\.1:${live.port}/`));
      assert.not.match(log, /Port 5173 is in use/);
      assert.ok(live.command?.endsWith(`--port ${live.port} --strictPort`), live.command ?? '');
    } finally {
      await new Promise((r) => (held ? held.close(r) : r(undefined)));
    }
  },
  { timeoutMs: 240_000 },
);

// ------------------------------------------------------------------- the command's fault

/** No sync runs (no sync.lock), none finished for 3 s, and no slot is starting. */
async function waitForQuiet(fx: Fixture): Promise<void> {
  let count = -1;
  let since = Date.now();
  await waitFor(
    () => {
      const now = fx.countSyncs();
      if (now !== count || existsSync(join(fx.siteDir(), 'sync.lock'))) [count, since] = [now, Date.now()];
      const state = JSON.parse(readFileSync(join(fx.siteDir(), 'run', 'server.json'), 'utf8')) as {
        slots: Record<'a' | 'b', SlotState>;
      };
      const starting = Object.values(state.slots).some((sl) => sl.phase === 'starting');
      return !starting && Date.now() - since >= 3000;
    },
    60_000,
    'the syncs to settle',
  );
}

/** A dev server that ignores PORT and every flag: it picks a free port of its own. */
const ELSEWHERE_JS = `
const http = require('node:http');
const server = http.createServer((q, s) => s.end('listening where nobody looks\\n'));
server.listen(0, '127.0.0.1', () => console.log('listening on 127.0.0.1:' + server.address().port));
process.on('SIGTERM', () => process.exit(0));
`;

e2e(
  frameworks,
  'a dev server that listens elsewhere fails as the command (status error, no failed commit) and doctor says install --command',
  async (fx) => {
    // The real default health timeout: failing "at once" must not mean waiting it out.
    await install(fx, { 'health-timeout': '60' });
    const good = fx.record()?.sha ?? '';
    assert.ok(good);
    const bad = await fx.push({ 'server.js': ELSEWHERE_JS });
    const started = Date.now();
    const { code, out } = await syncJson(fx);
    const ms = Date.now() - started;
    assert.is(code, 1, JSON.stringify(out));
    assert.is(out.status, 'error', JSON.stringify(out));
    assert.is(out.failedSha, '', 'a wrong command must not mark the commit failed');
    assert.is(out.sha, good);
    // One sentence: where it really listens (its own log says), where it was told, and the --command that fixes it.
    const really = new RegExp(`\\[[ab] ${bad.slice(0, 7)}\\] listening on 127\\.0\\.0\\.1:(\\d+)`).exec(
      fx.readLog('site', 'server.log'),
    );
    assert.ok(really, fx.readLog('site', 'server.log'));
    assert.match(
      out.message,
      new RegExp(`listens on [^;]*\\b${really[1]}\\b[^;]*, not on 127\\.0\\.0\\.1:\\d+ where it was told`),
    );
    assert.match(out.message, /--command 'npm run dev -- --host \{host\} --port \{port\}'/);
    assert.not.match(out.message, /sync --force/);
    // Fails at once, not after the 60 s health timeout.
    assert.ok(ms < 20_000, `the sync took ${ms} ms`);
    const record = fx.record();
    assert.is(record?.failedSha ?? '', '');
    assert.is(record?.sha, good);
    // The last good commit keeps serving.
    assert.is((await fx.get('/')).body, 'site says: hello from main\n');

    // The sync agent saw main move and tries the same commit once more (it is not marked failed): let it finish.
    await waitForQuiet(fx);
    const { code: doctorCode, doc } = await doctorJson(fx, ['--name', 'site']);
    assert.is(doctorCode, 1, describe(doc));
    const c = check(doc, 'framework');
    assert.is(c.status, 'fail', describe(doc));
    assert.match(c.summary, /--command/);
    assert.match(c.fix ?? '', /localhost-ops install /);
    assert.not.match(c.fix ?? '', /sync --force/);
    // The report's single next step is the install, not a retry of main.
    const text = await fx.cli(['doctor', '--name', 'site']);
    const next = text.stdout.split('\n').find((l) => l.startsWith('Next:')) ?? '';
    assert.match(next, /^Next: localhost-ops install /, text.stdout);
    assert.not.match(next, /sync --force/);
  },
  { timeoutMs: 150_000 },
);

frameworks.run();
