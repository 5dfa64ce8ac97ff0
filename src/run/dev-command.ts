/**
 * The command a slot's dev server runs (DESIGN §10): `auto` reads the commit's own
 * package.json and passes its framework's flags with no shell between; a custom --command
 * is the user's own line, run by sh with {host} and {port} filled in. Pure.
 */
import type { NodeInstall } from '../runtime/choose.js';
import { getNpmCommand, getPinnedPath } from '../runtime/deps.js';
import { getDevCommand, renderCustomCommand, suggestCommand } from './frameworks.js';

export interface DevCommand {
  file: string;
  args: string[];
  /** As a person would type it, for the log and the status page. */
  display: string;
  framework: string | null;
  /** The --command that would put this dev server where it is told, should it listen elsewhere. */
  suggestion: string;
  env: Record<string, string>;
}

export type DevCommandResult = { ok: true; command: DevCommand } | { ok: false; reason: string };

function parsePackage(text: string | null): unknown {
  try {
    return text === null ? null : JSON.parse(text);
  } catch {
    return null;
  }
}

/** The environment of DESIGN §9: the pinned Node first, the inner HOST/PORT, no colours, no browser. */
export function getDevEnv(
  base: NodeJS.ProcessEnv,
  node: NodeInstall,
  host: string,
  port: number,
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(base)) if (v !== undefined) env[k] = v;
  return {
    ...env,
    PATH: getPinnedPath(node, base.PATH ?? ''),
    HOST: host,
    PORT: String(port),
    NO_COLOR: '1',
    FORCE_COLOR: '0',
    BROWSER: 'none',
    // Astro 7 detaches `astro dev` when it thinks an agent runs it; the gate needs it in the foreground.
    ASTRO_DEV_BACKGROUND: '0',
    // npm's "new version available" notice would be the last lines of a failing server's log.
    npm_config_update_notifier: 'false',
  };
}

export function buildDevCommand(
  template: string,
  packageJsonText: string | null,
  node: NodeInstall,
  host: string,
  port: number,
  baseEnv: NodeJS.ProcessEnv = process.env,
): DevCommandResult {
  const env = getDevEnv(baseEnv, node, host, port);
  if (template !== 'auto') {
    const line = renderCustomCommand(template, host, port);
    const suggestion = suggestCommand(null, 'dev');
    return {
      ok: true,
      command: { file: '/bin/sh', args: ['-c', line], display: line, framework: null, suggestion, env },
    };
  }
  const dev = getDevCommand(parsePackage(packageJsonText), host, port);
  if (!dev) {
    return { ok: false, reason: 'its package.json has no "dev" or "start" script' };
  }
  const [, ...args] = dev.argv;
  return {
    ok: true,
    command: {
      file: getNpmCommand(node),
      args,
      display: dev.display,
      framework: dev.framework?.title ?? null,
      suggestion: suggestCommand(dev.framework, dev.script),
      env,
    },
  };
}
