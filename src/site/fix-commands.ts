import { tildify } from './paths.js';
import { DEFAULT_COMMAND, pickService, type SiteConfig } from './config.js';

/*
 * The commands that fix a site, as doctor's fixes and the CLI's errors name them. Always
 * with --name, so a fix pasted on a machine with several sites does what it says.
 */

/** Quotes a word for sh only when it needs it. */
export function shellWord(word: string): string {
  return /^[A-Za-z0-9_./:@%+=,~-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

export function syncCommand(config: SiteConfig, force = false): string {
  return `localhost-ops sync${force ? ' --force' : ''} --name ${config.name}`;
}

/**
 * The fix for a main held back (DESIGN §6): a fix on main; --force is named only for when
 * the cause is believed fixed without a new commit, so it is no command to paste now.
 */
export function heldBackFix(config: SiteConfig): string {
  return `Push a fix to main: the next sync serves it once it passes. Once you believe the cause is fixed without a new commit, ${syncCommand(config, true)} retries it.`;
}

/**
 * The install command that reproduces this config: re-running it rewrites and reloads only
 * what drifted (DESIGN §1), so it is the fix for jobs that are missing or edited by hand.
 */
export function installCommand(config: SiteConfig): string {
  const args: string[] = ['--repo', tildify(config.repo), '--name', config.name];
  const add = (flag: string, value: string | number, byDefault: string | number) => {
    if (value !== byDefault) args.push(`--${flag}`, String(value));
  };
  add('port', config.port, 4321);
  add('host', config.host, '127.0.0.1');
  add('remote', config.remote, 'origin');
  add('branch', config.branch, 'main');
  add('interval', config.interval, 60);
  add('command', config.command, DEFAULT_COMMAND);
  if (config.node) args.push('--node', tildify(config.node));
  add('service', config.service, pickService(process.platform));
  add('health-path', config.healthPath, '/');
  add('health-timeout', config.healthTimeout, 60);
  if (config.allowRemote) args.push('--allow-remote');
  // ~ must stay outside the quotes for the shell to expand it.
  const word = (a: string) => (a.startsWith('~/') ? `~/${shellWord(a.slice(2))}` : shellWord(a));
  return `localhost-ops install ${args.map(word).join(' ')}`;
}
