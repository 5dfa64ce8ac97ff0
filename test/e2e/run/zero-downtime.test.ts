/**
 * The promise, measured as a visitor: a GET every 20 ms through the front door, around each
 * kind of update and fault. Every case must show no refused or failed request and no
 * answer of 500 or more (DESIGN §3, §9).
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { e2e } from '../../helpers/e2e.js';
import { sh, waitFor, type Fixture } from '../../helpers/fixture.js';
import { killQuietly, isAlive } from '../../helpers/proc.js';
import { startPoller, describeStats } from '../../helpers/poller.js';
import { GREETING_JS, GREETING_PKG, packageJson } from '../../helpers/site.js';

const zero = suite('zero downtime');

async function installed(fx: Fixture): Promise<void> {
  const r = await fx.cli(fx.installArgs());
  assert.is(r.code, 0, `install failed: ${r.stdout}${r.stderr}`);
  await fx.waitForSyncs(2);
}

interface ServerState {
  live: 'a' | 'b' | null;
  slots: Record<
    'a' | 'b',
    { phase: string; pid: number | null; sha: string | null; restarts: number; port: number | null }
  >;
}

function serverState(fx: Fixture): ServerState {
  return JSON.parse(readFileSync(join(fx.siteDir(), 'run', 'server.json'), 'utf8')) as ServerState;
}

async function syncJson(fx: Fixture, ...args: string[]): Promise<{ code: number; out: Record<string, string> }> {
  const r = await fx.cli(['sync', '--json', ...args]);
  assert.ok(r.stdout.trim().startsWith('{'), `sync --json printed: ${r.stdout}${r.stderr}`);
  return { code: r.code, out: JSON.parse(r.stdout) as Record<string, string> };
}

e2e(zero, 'a content update: no failed request, and the new content is served', async (fx) => {
  await installed(fx);
  const poller = startPoller(fx.port);
  await new Promise((r) => setTimeout(r, 300));
  const sha = await fx.push({ 'content.txt': 'second\n' });
  const { code, out } = await syncJson(fx);
  assert.is(code, 0);
  assert.is(out.status, 'updated');
  assert.is(out.sha, sha);
  await waitFor(() => poller.stats.bodies.includes('site says: second\n'), 10_000, 'the new content');
  const s = await poller.stop();
  assert.is(s.failed + s.errors, 0, describeStats(s));
  assert.equal(s.bodies, ['site says: hello from main\n', 'site says: second\n'], describeStats(s));
  // The old slot's server was stopped after the switch; the link names the live slot.
  const state = serverState(fx);
  const live = state.live as 'a' | 'b';
  assert.is(state.slots[live].sha, sha);
  await waitFor(
    () => serverState(fx).slots[live === 'a' ? 'b' : 'a'].phase === 'stopped',
    15_000,
    'the old slot to stop',
  );
});

e2e(
  zero,
  'a lockfile update (a second file: dependency) is installed in the standby slot with no failed request',
  async (fx) => {
    await installed(fx);
    const poller = startPoller(fx.port);
    const extra = join(fx.upstream, 'vendor', 'shout');
    mkdirSync(extra, { recursive: true });
    writeFileSync(join(extra, 'package.json'), JSON.stringify({ name: 'shout', version: '1.0.0', main: 'index.js' }));
    writeFileSync(join(extra, 'index.js'), 'exports.shout = (s) => s.toUpperCase();\n');
    writeFileSync(
      join(fx.upstream, 'package.json'),
      packageJson({ dependencies: { greeting: 'file:vendor/greeting', shout: 'file:vendor/shout' } }),
    );
    await sh(fx.upstream, 'npm', ['install', '--package-lock-only', '--offline', '--no-audit', '--no-fund']);
    await fx.push({
      'content.txt': 'new deps\n',
      'vendor/greeting/package.json': GREETING_PKG,
      'vendor/greeting/index.js': GREETING_JS,
    });
    const { code, out } = await syncJson(fx);
    assert.is(code, 0, JSON.stringify(out));
    assert.is(out.deps, 'installed');
    await waitFor(() => poller.stats.bodies.includes('site says: new deps\n'), 10_000, 'the new content');
    const s = await poller.stop();
    assert.is(s.failed + s.errors, 0, describeStats(s));
    const live = serverState(fx).live as 'a' | 'b';
    assert.ok(
      readFileSync(join(fx.siteDir(), 'slots', live, 'node_modules', 'shout', 'index.js'), 'utf8').includes(
        'toUpperCase',
      ),
    );
  },
);

e2e(zero, 'a main that crashes at start is held back while the page keeps serving', async (fx) => {
  await installed(fx);
  const good = fx.record()?.sha;
  const poller = startPoller(fx.port);
  const bad = await fx.push({ CRASH: 'yes\n', 'content.txt': 'never served\n' });
  const { code, out } = await syncJson(fx);
  assert.is(code, 1);
  assert.is(out.status, 'rolled-back');
  assert.is(out.failedSha, bad);
  assert.is(out.sha, good);
  assert.match(out.message, /boom: CRASH marker present/);
  const s = await poller.stop();
  assert.is(s.failed + s.errors, 0, describeStats(s));
  assert.equal(s.bodies, ['site says: hello from main\n']);
  // The standby's server is stopped; the live slot still has the good commit.
  const state = serverState(fx);
  assert.is(state.slots[state.live as 'a' | 'b'].sha, good);
  // doctor's next step after a held-back main is a fix on main, not --force (DESIGN §6).
  const doctor = JSON.parse((await fx.cli(['doctor', '--json', '--no-network'])).stdout) as { next: string };
  assert.match(doctor.next, /^Push a fix to main/);
});

e2e(zero, 'a main that answers 500 is held back while the page keeps serving', async (fx) => {
  await installed(fx);
  const poller = startPoller(fx.port);
  const bad = await fx.push({ STATUS: '500\n' });
  const { code, out } = await syncJson(fx);
  assert.is(code, 1);
  assert.is(out.status, 'rolled-back');
  assert.is(out.failedSha, bad);
  assert.match(out.message, /answered 500/);
  const s = await poller.stop();
  assert.is(s.failed + s.errors, 0, describeStats(s));
});

e2e(zero, 'kill -9 of the live dev server: the agent restarts it and no request fails', async (fx) => {
  await installed(fx);
  const before = serverState(fx);
  const live = before.live as 'a' | 'b';
  const pid = before.slots[live].pid as number;
  assert.ok(pid > 0 && isAlive(pid));
  const poller = startPoller(fx.port);
  await new Promise((r) => setTimeout(r, 200));
  killQuietly(-pid, 'SIGKILL');
  killQuietly(pid, 'SIGKILL');
  await waitFor(
    () => {
      const s = serverState(fx).slots[live];
      return s.phase === 'healthy' && s.pid !== pid && s.restarts >= 1;
    },
    15_000,
    'the agent to restart the live server',
  );
  await new Promise((r) => setTimeout(r, 300));
  const s = await poller.stop();
  assert.is(s.failed + s.errors, 0, describeStats(s));
  assert.match(fx.readLog('site', 'server.log'), /restarting slot [ab] in 1 s \(restart 1\)/);
});

e2e(zero, 'a websocket upgrade is proxied to the live server, and closed when main switches', async (fx) => {
  // The site's server answers an upgrade with 101 and echoes what it receives.
  const ws = `
const http = require('node:http');
const fs = require('node:fs');
const port = Number(process.env.PORT);
const server = http.createServer((q, s) => s.end(fs.readFileSync('content.txt', 'utf8')));
server.on('upgrade', (req, socket) => {
  socket.write('HTTP/1.1 101 Switching Protocols\\r\\nUpgrade: websocket\\r\\nConnection: Upgrade\\r\\n\\r\\n');
  socket.on('data', (d) => socket.write('echo:' + d));
});
server.listen(port, '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
`;
  await fx.push({ 'server.js': ws });
  await installed(fx);
  const { connect } = await import('node:net');
  const socket = connect(fx.port, '127.0.0.1');
  let received = '';
  socket.setEncoding('utf8').on('data', (d: string) => (received += d));
  const closed = new Promise<void>((r) => socket.once('close', () => r()));
  socket.on('error', () => undefined);
  socket.write(
    `GET /hmr HTTP/1.1\r\nHost: 127.0.0.1:${fx.port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`,
  );
  await waitFor(() => received.includes('101 Switching Protocols'), 10_000, 'the 101');
  socket.write('ping');
  await waitFor(() => received.includes('echo:ping'), 10_000, 'the echo');
  await fx.push({ 'content.txt': 'after switch\n' });
  assert.is((await fx.cli(['sync'])).code, 0);
  await Promise.race([
    closed,
    new Promise((_, rej) => setTimeout(() => rej(new Error('socket not closed on switch')), 10_000)),
  ]);
});

e2e(zero, 'a changed --command takes effect at once through a swap, with no failed request', async (fx) => {
  await installed(fx);
  const before = serverState(fx);
  const poller = startPoller(fx.port);
  const r = await fx.cli(fx.installArgs({ command: 'node server.js --host {host} --port {port}' }));
  assert.is(r.code, 0, r.stdout + r.stderr);
  const s = await poller.stop();
  assert.is(s.failed + s.errors, 0, describeStats(s));
  const after = JSON.parse(readFileSync(join(fx.siteDir(), 'run', 'server.json'), 'utf8')) as ServerState & {
    slots: Record<'a' | 'b', { command: string | null }>;
  };
  assert.is.not(after.live, before.live, 'the standby became live');
  assert.match(after.slots[after.live as 'a' | 'b'].command ?? '', /^node server\.js --host 127\.0\.0\.1 --port \d+$/);
  assert.is((await fx.get()).body, 'site says: hello from main\n');
});

zero.run();
