/**
 * Loaded first by `npm run test:unit` (node --import): a unit test that starts a process or
 * opens a socket fails on the spot, naming what it tried, instead of quietly being an
 * end-to-end test in test/unit/. Patches node:child_process and node:net for this process.
 */
import { createRequire, syncBuiltinESMExports } from 'node:module';

const require = createRequire(import.meta.url);
const childProcess = require('node:child_process') as Record<string, unknown>;
const net = require('node:net') as typeof import('node:net');

function refuse(what: string): never {
  throw new Error(`a unit test may not ${what}: move it to test/e2e/ (see test/helpers/unit-guard.ts)`);
}

for (const name of ['spawn', 'spawnSync', 'exec', 'execSync', 'execFile', 'execFileSync', 'fork']) {
  childProcess[name] = (file: unknown) => refuse(`start a process (child_process.${name} ${String(file)})`);
}
net.Socket.prototype.connect = function connect() {
  return refuse('open a socket (net.Socket.connect)');
};
net.Server.prototype.listen = function listen() {
  return refuse('listen on a socket (net.Server.listen)');
};
syncBuiltinESMExports();
