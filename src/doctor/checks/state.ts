/** The tool's own footing: the last sync's record, and where things live on disk. */
import { accessSync, constants, existsSync, statSync } from 'node:fs';
import { getExternalVolumePath, getToolEntry } from '../../site/paths.js';
import { parseLocalTime, short } from '../../site/last-sync.js';
import { installCommand, syncCommand } from '../../site/fix-commands.js';
import { fail, ok, warn, type Check } from '../types.js';

/** "12 s ago", "5 min ago", "3 h ago", "2 days ago". */
export function formatAge(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 120) return `${s} s ago`;
  if (s < 7200) return `${Math.round(s / 60)} min ago`;
  if (s < 172_800) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86_400)} days ago`;
}

export const lastSync: Check = {
  id: 'last-sync',
  title: 'Last sync',
  dependsOn: [],
  async run(ctx) {
    const file = ctx.paths.lastSync;
    const sync = syncCommand(ctx.config);
    const rec = ctx.record();
    if (!rec) {
      const summary = existsSync(ctx.paths.lastSync)
        ? `${file} cannot be read`
        : `${file} is missing: no sync has recorded its outcome`;
      return fail(summary, `Run ${sync}: it writes the file again.`, sync);
    }
    const at = parseLocalTime(rec.at);
    const age = at ? Date.now() - at.getTime() : Infinity;
    const when = at ? formatAge(age) : `at an unreadable time "${rec.at}"`;
    const detail = `${rec.status} at ${rec.at}: ${rec.message}`;
    const evidence = [
      `${file}: status ${rec.status}, sha ${rec.sha}, target ${rec.targetSha || '(none)'}, good ${rec.goodSha || '(none)'}, failed ${rec.failedSha || '(none)'}, ${rec.durationMs} ms`,
    ];
    if (rec.status === 'error') {
      return fail(`the last sync failed (${when})`, `Fix the cause it names (above), then run ${sync}.`, sync, {
        detail,
        evidence,
      });
    }
    if (rec.status === 'rolled-back') {
      const force = syncCommand(ctx.config, true);
      return fail(
        `the last sync rolled back from main ${short(rec.targetSha)} to ${short(rec.sha)} (${when})`,
        `Push a fix to main, or retry it with ${force}.`,
        force,
        { detail, evidence },
      );
    }
    if (ctx.config.paused) {
      // Paused on purpose: the age of the last sync says nothing is wrong (DESIGN §11).
      const resume = `localhost-ops resume --name ${ctx.config.name}`;
      return warn(
        `paused: following ${ctx.config.branch} no more; the live slot keeps serving ${short(rec.sha)} (last sync ${rec.status} ${when})`,
        `Run ${resume} to follow ${ctx.config.branch} again.`,
        resume,
        { detail, evidence },
      );
    }
    const limit = 3 * ctx.config.interval * 1000;
    if (age > limit) {
      const install = installCommand(ctx.config);
      return fail(
        `the last sync ran ${when}, more than 3 × the ${ctx.config.interval} s interval: the sync job is not syncing`,
        `Run ${install} to restart the jobs (or ${sync} to sync once now).`,
        install,
        { detail, evidence },
      );
    }
    return ok(`${rec.status} ${when}: ${rec.message}`, { detail, evidence });
  },
};

/** Folders and files another user must not be able to change: the jobs run what they say. */
function getLoosePaths(paths: string[]): { open: string[]; foreign: string[]; lines: string[] } {
  const uid = process.getuid?.();
  const open: string[] = [];
  const foreign: string[] = [];
  const lines: string[] = [];
  for (const path of paths) {
    let st;
    try {
      st = statSync(path);
    } catch {
      continue; // not created yet (run/ before the first start): nothing to loosen
    }
    if (st.mode & 0o022) {
      open.push(path);
      lines.push(
        `${path}: mode ${(st.mode & 0o777).toString(8)}, writable by ${st.mode & 0o002 ? 'anyone' : 'the group'}`,
      );
    }
    if (uid !== undefined && st.uid !== uid) {
      foreign.push(path);
      lines.push(`${path}: owned by uid ${st.uid}, not you (${uid})`);
    }
  }
  return { open, foreign, lines };
}

export const paths: Check = {
  id: 'paths',
  title: 'Paths and permissions',
  dependsOn: [],
  async run(ctx) {
    const { dir, worktree, config, logs, runDir, lastSync } = ctx.paths;
    const tool = getToolEntry();
    const install = installCommand(ctx.config);
    const evidence = [`site folder ${dir}`, `mirror ${worktree}`, `tool ${tool}`];
    const external = getExternalVolumePath(ctx.paths, tool);
    if (external) {
      return fail(
        `the ${external.what} ${external.path} is on an external volume, where launchd will not run programs and npm fails with EPERM`,
        external.what === 'tool'
          ? 'Install localhost-ops on the internal disk, then run install again.'
          : `Set LOCALHOST_OPS_HOME to a folder on the internal disk and run ${install} again.`,
        undefined,
        { evidence },
      );
    }
    try {
      accessSync(dir, constants.W_OK);
    } catch {
      return fail(
        `${dir} is not writable by you, so syncs cannot record anything`,
        `Take it back: sudo chown -R "$USER" ${dir}`,
        `sudo chown -R "$USER" ${dir}`,
        { evidence },
      );
    }
    // The tool path the jobs were installed with: install again from where the tool lives now.
    const facts = await ctx.service();
    const installedTools = facts.ok
      ? [facts.value.installed.sync, facts.value.installed.server]
          .map((j) => j.programArguments?.[1])
          .filter((p): p is string => !!p)
      : [];
    const moved = [...new Set(installedTools)].find((p) => p !== tool);
    if (moved) {
      const summary = `the jobs run localhost-ops from ${moved}, but it now lives at ${tool}`;
      const fix = `Run ${install} from the tool's new location: it rewrites both jobs.`;
      return existsSync(moved)
        ? warn(summary, fix, install, { evidence })
        : fail(`${summary}; the old path is gone`, fix, install, { evidence });
    }
    const definitions = facts.ok ? [facts.value.installed.sync.path, facts.value.installed.server.path] : [];
    const loose = getLoosePaths([dir, config, logs, runDir, lastSync, worktree, ...definitions]);
    if (loose.lines.length) {
      const commands = [
        ...(loose.foreign.length ? [`sudo chown "$USER" ${loose.foreign.join(' ')}`] : []),
        ...(loose.open.length ? [`chmod go-w ${loose.open.join(' ')}`] : []),
      ];
      const command = commands.join(' && ');
      return warn('files the jobs trust can be changed by other users', `Tighten them: ${command}`, command, {
        detail: loose.lines.join('\n'),
        evidence,
      });
    }
    return ok('on the internal disk, owned by you, not writable by others', { evidence });
  },
};
