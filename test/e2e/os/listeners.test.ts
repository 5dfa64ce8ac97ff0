/** Live sockets and processes: our own listeners are found, ports free up, and /proc answers about us. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  getFreePort,
  getListeners,
  getProcessCwd,
  hasGitProcessIn,
  isLoopbackAddress,
  isPortFree,
} from '../../../src/os/listeners.js';

function listen(host: string, port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen({ host, port }, () => resolve(server));
  });
}

const close = (server: Server) => new Promise<void>((resolve) => server.close(() => resolve()));

test('getListeners finds our own 127.0.0.1 server; isPortFree follows it', async () => {
  const port = await getFreePort();
  assert.ok(port > 0);
  assert.is(await isPortFree('127.0.0.1', port), true);
  const server = await listen('127.0.0.1', port);
  try {
    const listeners = await getListeners(port);
    const ours = listeners.find((l) => l.pid === process.pid);
    assert.ok(ours, JSON.stringify(listeners));
    assert.is(ours.address, '127.0.0.1');
    assert.is(ours.port, port);
    assert.is(ours.cwd, process.cwd());
    assert.ok(ours.command && ours.command.length <= 200, String(ours.command));
    assert.ok(isLoopbackAddress(ours.address));
    assert.is(await isPortFree('127.0.0.1', port), false);
  } finally {
    await close(server);
  }
  assert.is(await isPortFree('127.0.0.1', port), true);
  assert.equal(await getListeners(port), []);
});

test('a 0.0.0.0 listener is reported as 0.0.0.0, not loopback', async () => {
  const port = await getFreePort('0.0.0.0');
  const server = await listen('0.0.0.0', port);
  try {
    const ours = (await getListeners(port)).find((l) => l.pid === process.pid);
    assert.ok(ours);
    assert.is(ours.address, '0.0.0.0');
    assert.is(isLoopbackAddress(ours.address), false);
  } finally {
    await close(server);
  }
});

test('process facts about ourselves', async () => {
  assert.is(await getProcessCwd(process.pid), process.cwd());
  assert.is(await getProcessCwd(2 ** 30), null);
});

test('hasGitProcessIn: no git runs in a fresh directory', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'procinfo-git-'));
  try {
    assert.is(await hasGitProcessIn(dir), false);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
