/** The tool's own footing: the last sync's record, and where things live on disk. */
import { accessSync, constants, existsSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { getHome, getToolEntry } from '../../site/paths.js';
import { findDenial, findProtectedPath, getJobPlatform, resolveReal } from '../../service/privacy.js';
import { getEntryArgument } from '../../service/jobs.js';
import { readTailLines } from '../../os/log.js';
import { parseLocalTime, short } from '../../site/last-sync.js';
import { heldBackFix, installCommand, syncCommand } from '../../site/fix-commands.js';
import { fail, ok, warn, type Check } from '../types.js';
import { describeRunningSync } from '../context.js';
import type { DoctorContext } from '../context.js';

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
    // A sync running now is said, and is the sync job syncing: its own outcome is not judged yet.
    const running = await ctx.runningSync();
    const now = running ? describeRunningSync(running) : null;
    if (!rec && now) return ok(`no sync has recorded its outcome yet; ${now}`);
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
      ...(now ? [`sync.lock: ${now}`] : []),
    ];
    const also = now ? `; now ${now}` : '';
    if (rec.status === 'error') {
      return fail(`the last sync failed (${when})${also}`, `Fix the cause it names (above), then run ${sync}.`, sync, {
        detail,
        evidence,
      });
    }
    if (rec.status === 'rolled-back') {
      return fail(
        `the last sync held main ${short(rec.targetSha)} back; the live slot still serves ${short(rec.sha)} (${when})${also}`,
        heldBackFix(ctx.config),
        undefined,
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
    if (age > limit && !now) {
      const install = installCommand(ctx.config);
      return fail(
        `the last sync ran ${when}, more than 3 × the ${ctx.config.interval} s interval: the sync job is not syncing`,
        `Run ${install} to restart the jobs (or ${sync} to sync once now).`,
        install,
        { detail, evidence },
      );
    }
    return ok(`${rec.status} ${when}: ${rec.message}${now ? ` Now ${now}.` : ''}`, { detail, evidence });
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

/** System Settings → Privacy & Security → Full Disk Access, opened from a shell. */
const FULL_DISK_ACCESS_PANE = 'open "x-apple.systempreferences:com.apple.preference.security?Privacy_AllFiles"';

/**
 * What the jobs logged since things last went right: sync.log after its last good sync, and
 * the service manager's captures (written by a job before it can log) unless a good sync
 * came after their last write.
 */
function getRecentJobLines(ctx: DoctorContext): { file: string; lines: string[] }[] {
  const rec = ctx.record();
  const goodAt =
    rec && (rec.status === 'updated' || rec.status === 'noop') ? (parseLocalTime(rec.at)?.getTime() ?? null) : null;
  const out: { file: string; lines: string[] }[] = [];
  const sync = readTailLines(ctx.paths.syncLog) ?? [];
  let last = -1;
  sync.forEach((line, i) => {
    if (/\] done: (updated|noop) /.test(line)) last = i;
  });
  out.push({ file: ctx.paths.syncLog, lines: sync.slice(last + 1) });
  for (const kind of ['sync', 'server']) {
    const file = join(ctx.paths.logs, `${ctx.config.service}-${kind}.log`);
    let mtime: number;
    try {
      mtime = statSync(file).mtimeMs;
    } catch {
      continue;
    }
    // Local time to the second: a write in the same second as the good sync still counts.
    if (goodAt !== null && mtime < goodAt) continue;
    out.push({ file, lines: readTailLines(file) ?? [] });
  }
  return out;
}

/** The jobs' logs show the system refused them the canonical repo: what to grant, or where to move it. */
function getRepoRefusal(
  ctx: DoctorContext,
  platform: NodeJS.Platform,
  node: string | null,
): { summary: string; fix: string; command?: string; detail: string } | null {
  const repo = ctx.config.repo;
  const folders = [...new Set([repo, resolveReal(repo)])];
  for (const { file, lines } of getRecentJobLines(ctx)) {
    const denial = findDenial(lines, folders);
    if (!denial) continue;
    const detail = `${file}: ${denial.line.trim()}`;
    const seen = `"Operation not permitted" in ${basename(file)}`;
    if (platform !== 'darwin') {
      return {
        summary: `the jobs were refused access to ${denial.path} (${seen})`,
        fix: `Give your user read access to ${repo} again (ls -ld ${denial.path} shows who may read it), then run ${syncCommand(ctx.config)}.`,
        detail,
      };
    }
    const place = findProtectedPath([['repo', repo]], getHome(), platform)?.place ?? null;
    const binary = node ?? 'the Node binary in the jobs’ definitions';
    const real = node ? resolveReal(node) : null;
    const named = real && real !== node ? `${binary} (that is ${real})` : binary;
    const name = ctx.config.name;
    const dest = `~/dev/${basename(repo)}`;
    const move = place
      ? ` Or move the repository out of ${place.folder} (say to ${dest}), then run localhost-ops uninstall --name ${name} and localhost-ops install --repo ${dest} --name ${name}.`
      : '';
    return {
      summary: `the jobs were refused access to the canonical repo ${denial.path} (${seen})${place ? `: it is in ${place.folder}, and` : ':'} macOS privacy protection does not extend your terminal's access to ${binary}, the Node the jobs run`,
      fix: `Give ${named} Full Disk Access: System Settings → Privacy & Security → Full Disk Access, +, then ⌘⇧G and paste that path (after a Node upgrade, again for the new binary); then run ${syncCommand(ctx.config)}.${move}`,
      command: FULL_DISK_ACCESS_PANE,
      detail,
    };
  }
  return null;
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
    const platform = getJobPlatform(ctx.config.service);
    const found = findProtectedPath(
      [
        ['site folder', dir],
        ['slots folder', ctx.paths.slotsDir],
        ['tool', tool],
      ],
      getHome(),
      platform,
    );
    if (found) {
      const { what, path, real, place } = found;
      const where = place.kind === 'external-volume' ? `on the external volume ${place.folder}` : `in ${place.folder}`;
      return fail(
        `the ${what} ${path}${real ? ` (really ${real})` : ''} is ${where}, where macOS keeps launchd's jobs out ("Operation not permitted", EPERM)`,
        what === 'tool'
          ? 'Install localhost-ops outside ~/Documents, ~/Desktop, ~/Downloads, iCloud Drive and /Volumes, then run install again from there.'
          : `Set LOCALHOST_OPS_HOME to a folder outside them (the default ~/ops-local is fine) and run ${install} again.`,
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
          .map((j) => (j.programArguments ? getEntryArgument(j.programArguments) : null))
          .filter((p): p is string => !!p)
      : [];
    // The canonical repo may live in a protected folder; the jobs then read it only if their Node may.
    const node =
      (facts.ok ? facts.value.installed.sync.programArguments?.[0] : undefined) ?? ctx.config.jobs?.node ?? null;
    const refused = getRepoRefusal(ctx, platform, node);
    if (refused) return fail(refused.summary, refused.fix, refused.command, { detail: refused.detail, evidence });
    const repoPlace = findProtectedPath([['repo', ctx.config.repo]], getHome(), platform)?.place;
    if (repoPlace) {
      evidence.push(
        `canonical repo in ${repoPlace.folder}: the jobs read it only if ${node ?? 'their Node'} has Full Disk Access (no refusal logged)`,
      );
    }
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
