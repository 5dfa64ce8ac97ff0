/**
 * What launchctl's exit codes mean, in one sentence with its fix (DESIGN §4). Pure: the
 * backend (index.ts) retries where a retry helps, and hands what is left to describeFailure.
 * Homebrew passes "Bootstrap failed: 5: Input/output error" to the user as it is; this names
 * the agent, what most likely happened, and the command that puts it right.
 */
import { oneLine } from '../../errors.js';

/** bootstrap of a label still loaded (or still being booted out), or a plist launchd rejects. */
export const IO_ERROR = 5;
/** A bootstrap (or bootout) while launchd is still busy with the same service. */
export const IN_PROGRESS = 37;
/** The domain itself does not exist (seen from `print` of a gui/<uid> no one is logged in to). */
export const NO_SUCH_DOMAIN = 112;
/** The service is not loaded in that domain. */
export const NOT_LOADED = 113;
/** `launchctl disable` turned the label off. */
export const DISABLED = 119;
/** Older launchctl: the plist is writable by others, or not owned by the user. */
export const BAD_PERMISSIONS = 122;
/** gui/<uid> over SSH or on a headless Mac: no Aqua session, so no such domain. */
export const DOMAIN_UNSUPPORTED = 125;
/** The plist's LimitLoadToSessionType leaves out the domain's session. */
export const WRONG_SESSION = 134;

/** Codes with which launchctl says the domain asked for is not there. */
export function isNoDomain(code: number): boolean {
  return code === NO_SUCH_DOMAIN || code === DOMAIN_UNSUPPORTED;
}

/** What a failed launchctl call was about, for the sentence. */
export interface FailureContext {
  /** The launchctl arguments, as run. */
  args: string[];
  code: number;
  /** What launchctl printed (stderr, else stdout). */
  said: string;
  label: string;
  domain: string;
  /** The plist on disk, when the call loads one. */
  plist?: string;
  /** The program and working folder the plist names (for a 5 that a retry did not cure). */
  program?: string;
  workingDirectory?: string;
  /** The whole install command for this site (DESIGN §1: fixes name commands whole). */
  install: string;
  /** How often the call was tried (a 37 waited out, a 5 retried after a bootout). */
  tries?: number;
}

export interface Decoded {
  message: string;
  fix: string;
}

/** Pure: one sentence saying what went wrong, and one saying what to do. */
export function describeFailure(c: FailureContext): Decoded {
  const verb = c.args[0] ?? 'launchctl';
  const words = oneLine(c.said, 200);
  const quoted = words ? `: "${words}"` : '';
  const call = `launchctl ${verb} ${c.code}`;
  const again = (c.tries ?? 1) > 1 ? ` (tried ${c.tries} times)` : '';
  switch (c.code) {
    case IO_ERROR:
      return verb === 'bootstrap'
        ? {
            message: `launchd would not load ${c.plist ?? c.label} into ${c.domain} (${call}, Input/output error${quoted}), even after booting out ${c.label} and trying again: the plist, or a path it names, is bad.`,
            fix: `Check it with plutil -lint ${c.plist ?? `~/Library/LaunchAgents/${c.label}.plist`}${c.program ? ` and that ${c.program}${c.workingDirectory ? ` and ${c.workingDirectory}` : ''} exist` : ''}, then run ${c.install}.`,
          }
        : {
            message: `launchd failed to ${verb} ${c.label} in ${c.domain} (${call}, Input/output error${quoted}).`,
            fix: `Run launchctl bootout ${c.domain}/${c.label}, then ${c.install}.`,
          };
    case IN_PROGRESS:
      return {
        message: `launchd was still busy with ${c.label} in ${c.domain}${again} (${call}, Operation already in progress): a bootout or start had not finished.`,
        fix: `Wait a few seconds, then run ${c.install}.`,
      };
    case NOT_LOADED:
      return {
        message: `${c.label} is not loaded in ${c.domain} (${call}, Could not find service).`,
        fix: `Run ${c.install}: it loads the agent.`,
      };
    case NO_SUCH_DOMAIN:
    case DOMAIN_UNSUPPORTED:
      return {
        message: `launchd has no domain for this session to load ${c.label} into: neither gui/ nor user/ accepted it (${call}, ${c.code === DOMAIN_UNSUPPORTED ? 'Domain does not support specified action' : 'Could not find domain'}${quoted}); this happens under sudo, su or in a container.`,
        fix: `Log in as this user (at the Mac's screen or over SSH) and run ${c.install} there, or install with --service process.`,
      };
    case DISABLED:
      return {
        message: `${c.label} is disabled in ${c.domain} (${call}, Service is disabled), so launchd will not load it.`,
        fix: `Run launchctl enable ${c.domain}/${c.label}, then ${c.install}.`,
      };
    case BAD_PERMISSIONS:
      return {
        message: `launchd refuses ${c.plist ?? c.label} (${call}, Path had bad ownership/permissions): it must be yours and writable by you alone.`,
        fix: `Run chmod 644 ${c.plist ?? `~/Library/LaunchAgents/${c.label}.plist`}, then ${c.install}.`,
      };
    case WRONG_SESSION:
      return {
        message: `${c.plist ?? c.label} may not load in ${c.domain} (${call}, Service cannot load in requested session): its LimitLoadToSessionType leaves that session out.`,
        fix: `Run ${c.install}: it writes the plist again with LimitLoadToSessionType Aqua and Background.`,
      };
    default:
      return {
        message: `launchctl ${c.args.join(' ')} failed with exit ${c.code}${quoted}.`,
        fix: `Read the launchd-*.log files in the site's logs folder and launchctl print ${c.domain}/${c.label}, then run ${c.install}.`,
      };
  }
}
