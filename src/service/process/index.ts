/**
 * The embedded backend: two detached process groups with pid files in run/. Used where no
 * service manager runs (containers, CI). The jobs do not survive a reboot.
 */
import { join } from 'node:path';
import { unlinkSync } from 'node:fs';
import type { Site } from '../../site/config.js';
import { ensureDir, isFromBeforeBoot, readJsonOrNull, readTextOrNull, writeFileAtomic } from '../../os/fs.js';
import { isAlive, spawnDetached, stopGroup } from '../../os/exec.js';
import {
  getStringArray,
  parseJsonObject,
  type JobKind,
  type JobSpec,
  type JobStatus,
  type ServiceBackend,
} from '../jobs.js';

function files(site: Site, kind: JobKind) {
  return { pid: join(site.paths.runDir, `${kind}.pid`), spec: join(site.paths.runDir, `${kind}.spec.json`) };
}

function readPid(site: Site, kind: JobKind): number | null {
  const file = files(site, kind).pid;
  if (isFromBeforeBoot(file)) return null;
  const pid = Number(readTextOrNull(file)?.trim());
  return Number.isInteger(pid) && pid > 0 ? pid : null;
}

function isSameSpec(a: JobSpec | null, b: JobSpec): boolean {
  return a !== null && JSON.stringify(a) === JSON.stringify(b);
}

async function stop(site: Site, kind: JobKind): Promise<void> {
  const pid = readPid(site, kind);
  // The server gets time to shut down and free its port, as launchd's ExitTimeOut gives it.
  if (pid !== null) await stopGroup(pid, kind === 'server' ? 10_000 : 3000);
  try {
    unlinkSync(files(site, kind).pid);
  } catch {
    // not running
  }
}

function start(site: Site, spec: JobSpec): void {
  ensureDir(site.paths.runDir);
  ensureDir(site.paths.logs);
  const [node, ...args] = spec.programArguments;
  // Both jobs are resident processes, started as the other backends start them.
  const pid = spawnDetached(node, args, {
    cwd: spec.workingDirectory,
    env: spec.environment,
    logFile: spec.stdoutPath,
  });
  const f = files(site, spec.kind);
  writeFileAtomic(f.pid, `${pid}\n`);
  writeFileAtomic(f.spec, JSON.stringify(spec, null, 2) + '\n');
}

function isRunning(site: Site, kind: JobKind): boolean {
  const pid = readPid(site, kind);
  return pid !== null && isAlive(pid);
}

export const processBackend: ServiceBackend = {
  kind: 'process',

  async apply(site, specs) {
    const touched: JobKind[] = [];
    for (const spec of specs) {
      const installed = readJsonOrNull<JobSpec>(files(site, spec.kind).spec);
      if (isSameSpec(installed, spec) && isRunning(site, spec.kind)) continue;
      await stop(site, spec.kind);
      start(site, spec);
      touched.push(spec.kind);
    }
    return touched;
  },

  async restart(site, spec) {
    await stop(site, spec.kind);
    start(site, spec);
  },

  async isRunning(site, kind) {
    return isRunning(site, kind);
  },

  getDefinitionPath(site, kind) {
    return files(site, kind).spec;
  },

  async parseDefinition(text) {
    return parseJsonObject(text);
  },

  async renderDefinition(spec) {
    return { ...spec };
  },

  getProgramArguments(definition) {
    return getStringArray(definition.programArguments);
  },

  async getCaveats() {
    return {
      note: '; they stop at a reboot, so run install again after one',
      whenDown: " (the process backend's jobs stop at a reboot)",
      evidence: [],
    };
  },

  async status(site, specs) {
    const one = (spec: JobSpec): JobStatus => {
      const pid = readPid(site, spec.kind);
      const installed = readJsonOrNull<JobSpec>(files(site, spec.kind).spec);
      const running = pid !== null && isAlive(pid);
      return {
        installed: installed !== null,
        running,
        pid: running ? pid : null,
        lastExit: null,
        current: isSameSpec(installed, spec),
        detail: running ? `pid ${pid}` : pid !== null ? `pid ${pid} is gone` : 'not started',
      };
    };
    const [sync, server] = specs[0].kind === 'sync' ? specs : [specs[1], specs[0]];
    return { sync: one(sync), server: one(server) };
  },

  async remove(site) {
    // The sync loop first, so it cannot restart the server between the two stops.
    for (const kind of ['sync', 'server'] as const) {
      await stop(site, kind);
      try {
        unlinkSync(files(site, kind).spec);
      } catch {
        // never installed
      }
    }
  },
};
