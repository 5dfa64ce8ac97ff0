/**
 * `run`: the dev server in the foreground, from the mirror, under the pinned Node. This is
 * what the server job executes; its exit code is the server's.
 */
import { openSync, closeSync } from 'node:fs';
import { resolve } from 'node:path';
import { resolveSite, verifyInstalled } from '../site/store.js';
import { OpsError } from '../errors.js';
import { isWorktreeOf } from '../os/git.js';
import { readDepsStamp, getPinnedPath } from '../runtime/deps.js';
import { getNodeFor } from '../runtime/pinned-node.js';
import { appendLogLine, rotateIfLarge } from '../os/log.js';
import { ensureDir, readTextOrNull } from '../os/fs.js';
import { spawnForeground, killQuietly } from '../os/exec.js';
import { tildify } from '../site/paths.js';

/** Pure: the configured command with {host} and {port} filled in, shell-quoted. */
export function renderCommand(template: string, host: string, port: number): string {
  return template.replaceAll('{host}', `'${host}'`).replaceAll('{port}', String(port));
}

export async function runCommand(argv: { name?: string }): Promise<number> {
  const site = verifyInstalled(resolveSite(argv.name));
  const { config, paths } = site;
  const mirror = paths.worktree;
  if (resolve(mirror) === resolve(config.repo) || !isWorktreeOf(mirror, config.repo)) {
    throw new OpsError(
      `The mirror ${tildify(mirror)} is missing or is not a worktree of ${tildify(config.repo)}; run refuses to serve anything else.`,
      `Run localhost-ops sync --name ${site.name} to recreate it.`,
    );
  }
  // No package.json: no engines, so the tool's own Node.
  const pkg = readTextOrNull(resolve(mirror, 'package.json'));
  const { node } = await getNodeFor(config, pkg, readDepsStamp(mirror));
  const command = renderCommand(config.command, config.host, config.port);
  ensureDir(paths.logs);
  rotateIfLarge(paths.serverLog);
  appendLogLine(paths.serverLog, `[localhost-ops] starting "${command}" in ${mirror} under Node ${node.version}`);
  const fd = openSync(paths.serverLog, 'a', 0o644);
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PATH: getPinnedPath(node),
    HOST: config.host,
    PORT: String(config.port),
  };
  const child = spawnForeground('/bin/sh', ['-c', command], { cwd: mirror, env, fd });
  closeSync(fd);

  // The dev server's own children (npm → sh → node) share our process group: a stop
  // signal goes to the whole group so none of them is left holding the port.
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    try {
      process.kill(-process.pid, signal);
    } catch {
      killQuietly(child.pid, signal);
    }
  };
  for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.on(signal, () => stop(signal));
  const code = await child.exited;
  appendLogLine(paths.serverLog, `[localhost-ops] server exited with ${code}${stopping ? ' after a stop signal' : ''}`);
  return stopping ? 0 : code;
}
