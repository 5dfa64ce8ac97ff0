/** The git side: the canonical repo, the mirror, its cleanliness, and whether it serves main. */
import { lstatSync, readlinkSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { run } from '../../os/exec.js';
import * as git from '../../os/git.js';
import { isInside } from '../../os/listeners.js';
import { SLOTS, getOtherSlot, type Slot } from '../../site/paths.js';
import { short } from '../../site/last-sync.js';
import { heldBackFix, installCommand, syncCommand } from '../../site/fix-commands.js';
import { fail, ok, skip, warn, type Check } from '../types.js';
import { describeRunningSync, waitForSync } from '../context.js';

export const canonical: Check = {
  id: 'canonical',
  title: 'Canonical repo',
  dependsOn: [],
  async run(ctx) {
    const { repo, remote, branch } = ctx.config;
    // install refuses a second repo under the same name, so a clone that moved for good means uninstall first.
    const reinstall = `Put your clone back at ${repo}; if it moved for good, run localhost-ops uninstall --name ${ctx.site.name}, then localhost-ops install --repo NEW_DIR.`;
    let isDir = false;
    try {
      isDir = statSync(repo).isDirectory();
    } catch {
      // missing
    }
    if (!isDir) return fail(`${repo} does not exist`, reinstall, undefined);
    const top = await git.getRepoTop(repo);
    if (top === null || resolve(top) !== resolve(repo)) {
      return fail(`${repo} is not the top of a git repository`, reinstall, undefined);
    }
    const [hasRemote, mainSha] = await Promise.all([git.hasRemote(repo, remote), ctx.mainSha()]);
    const evidence = [`${remote}/${branch} as last fetched: ${mainSha ?? '(never fetched)'}`];
    if (!hasRemote) {
      return fail(
        `${repo} has no remote "${remote}"`,
        `Add it back: git -C ${repo} remote add ${remote} <url>.`,
        `git -C ${repo} remote add ${remote} <url>`,
        { evidence },
      );
    }
    if (!mainSha) {
      return fail(
        `${repo} has never fetched ${remote}/${branch}`,
        `Run ${syncCommand(ctx.config)}; it fetches ${remote} ${branch} and says what went wrong if it cannot.`,
        syncCommand(ctx.config),
        { evidence },
      );
    }
    return ok(`${repo}: ${remote}/${branch} at ${short(mainSha)}`, { evidence });
  },
};

/** Disk used by a folder, from du (a slot's node_modules can hold 100 000 files). */
async function getDiskUsage(dir: string): Promise<string> {
  try {
    const out = (await run('du', ['-sk', dir], { timeoutMs: 5000, allowFail: true })).stdout;
    const kb = Number(out.trim().split(/\s+/)[0]);
    return Number.isFinite(kb) && kb > 0 ? formatSize(kb * 1024) : '?';
  } catch {
    return '?';
  }
}

export const slots: Check = {
  id: 'slots',
  title: 'Slots',
  dependsOn: ['canonical'],
  async run(ctx) {
    const { repo } = ctx.config;
    const sync = syncCommand(ctx.config);
    const dir = ctx.paths.slotsDir;
    if (isInside(dir, repo) || isInside(repo, dir)) {
      return fail(
        `the slots ${dir} and the canonical repo ${repo} overlap`,
        "Re-install with --repo pointing at your own clone, outside the tool's folder.",
        installCommand(ctx.config),
      );
    }
    const [info, agent, running] = await Promise.all([ctx.slots(), ctx.agent(), ctx.runningSync()]);
    const linkPath = ctx.paths.worktree;
    const link = readLink(linkPath, ctx.paths.slots);
    const evidence = SLOTS.map(
      (s) =>
        `slot ${s}: ${info[s].present ? `worktree at ${info[s].head ?? '(no HEAD)'}${info[s].branchRef ? ` on ${info[s].branchRef}` : ', detached'}` : 'missing'}`,
    );
    evidence.push(
      `localhost-worktree → ${link.kind === 'slot' ? link.slot : link.kind === 'elsewhere' ? link.target : `(${link.kind})`}`,
      `agent: ${agent ? `live ${agent.live ?? 'none'}` : 'not answering'}`,
      ...(running ? [`sync.lock: ${describeRunningSync(running)}`] : []),
    );
    const live = agent?.live ?? (link.kind === 'slot' ? link.slot : null);
    // While a sync runs it creates and prepares the standby: only the live slot is judged (DESIGN §6).
    const judged: Slot[] = running ? (live ? [live] : []) : [...SLOTS];
    const missing = judged.filter((s) => !info[s].present);
    if (missing.length) {
      return fail(
        `slot ${missing.join(' and ')} ${missing.length > 1 ? 'are' : 'is'} missing or not a worktree of ${repo}`,
        `Run ${sync}: it recreates missing slots.`,
        sync,
        { evidence },
      );
    }
    if (link.kind === 'legacy') {
      return warn(
        "the first release's single worktree is still here",
        `Run ${sync}: it builds the slots, serves from them, then removes the old worktree.`,
        sync,
        { evidence },
      );
    }
    if (!live && running) {
      const wait = waitForSync(ctx.site.name);
      return warn(`no slot is live yet: ${describeRunningSync(running)}, preparing the first`, wait.fix, wait.command, {
        evidence,
      });
    }
    if (!live) {
      return fail(
        'no slot is live yet: no commit of main has passed the health gate',
        `Run ${sync}, and read its message.`,
        sync,
        { evidence },
      );
    }
    if (link.kind === 'elsewhere') {
      // The sync repairs a missing link; one that names another folder has to go first.
      const command = `rm ${linkPath} && ${sync}`;
      return fail(
        `localhost-worktree points at ${link.target}, not at the live slot ${live}`,
        `Remove the link, then run ${sync}: it points the link at slot ${live} again.`,
        command,
        { evidence },
      );
    }
    if (link.kind === 'missing' || link.slot !== live) {
      return fail(
        `localhost-worktree points at ${link.kind === 'slot' ? `slot ${link.slot}` : 'nothing'}, not at the live slot ${live}`,
        `Run ${sync}: it repairs the link.`,
        sync,
        { evidence },
      );
    }
    for (const s of judged) {
      const age = await git.getStaleIndexLockAge(info[s].dir);
      if (age !== null) {
        return warn(
          `a stale index.lock (${Math.round(age / 1000)} s old) blocks git in slot ${s}`,
          `Run ${sync}: it removes an index.lock no git process holds.`,
          sync,
          { evidence },
        );
      }
    }
    // Slots are detached: one that holds a branch keeps git from checking it out in the clone.
    const attached = judged.find((s) => info[s].branchRef !== null);
    if (attached) {
      const branch = info[attached].branchRef!.replace(/^refs\/heads\//, '');
      const command = `git -C ${info[attached].dir} checkout --detach`;
      return warn(
        `slot ${attached} has the branch ${branch} checked out, but slots stay detached: git will not check out ${branch} in ${repo} while a slot holds it`,
        `Detach it (the files stay as they are): ${command}. Make changes in ${repo}, never in a slot.`,
        command,
        { evidence },
      );
    }
    const standby = getOtherSlot(live);
    const phase = agent?.slots[standby].phase ?? 'unknown';
    const [liveSize, standbySize] = await Promise.all([getDiskUsage(info[live].dir), getDiskUsage(info[standby].dir)]);
    const idle =
      phase === 'stopped' || phase === 'failed' ? 'idle' : phase === 'starting' ? 'being prepared by a sync' : phase;
    const standbyState = info[standby].present ? `${idle} (${standbySize})` : 'being created';
    return ok(
      `slot ${live} live at ${short(info[live].head)} (${liveSize}); slot ${standby} standby, ${standbyState}${running ? `; ${describeRunningSync(running)}` : ''}`,
      { evidence },
    );
  },
};

type LinkState =
  { kind: 'slot'; slot: Slot } | { kind: 'elsewhere'; target: string } | { kind: 'legacy' } | { kind: 'missing' };

/** Where localhost-worktree leads: one of this site's slots (by its full path, not its last name), or not. */
function readLink(path: string, slotDirs: Record<Slot, string>): LinkState {
  let target: string;
  try {
    if (!lstatSync(path).isSymbolicLink()) return { kind: 'legacy' };
    target = resolve(dirname(path), readlinkSync(path));
  } catch {
    return { kind: 'missing' };
  }
  const slot = SLOTS.find((s) => resolve(slotDirs[s]) === target);
  return slot ? { kind: 'slot', slot } : { kind: 'elsewhere', target };
}

function formatSize(bytes: number): string {
  if (bytes >= 1024 ** 3) return `${(bytes / 1024 ** 3).toFixed(1)} GB`;
  if (bytes >= 1024 ** 2) return `${Math.round(bytes / 1024 ** 2)} MB`;
  return `${Math.max(1, Math.round(bytes / 1024))} KB`;
}

export const worktreeClean: Check = {
  id: 'worktree-clean',
  title: 'Mirror has no local edits',
  dependsOn: ['slots'],
  async run(ctx) {
    const running = await ctx.runningSync();
    if (running && !ctx.mirrorPresent()) {
      return skip(`skipped: no slot is live yet; ${describeRunningSync(running)}, preparing the first`);
    }
    const dirty = await git.getDirtyPaths(ctx.paths.worktree);
    if (dirty.length === 0) return ok('no local edits or stray files');
    const sync = syncCommand(ctx.config);
    const shown = dirty.slice(0, 10).map((l) => `  ${l}`);
    if (dirty.length > shown.length) shown.push(`  … and ${dirty.length - shown.length} more`);
    return fail(
      `${dirty.length} local edit${dirty.length === 1 ? '' : 's'} in the mirror, so it does not show main`,
      `Run ${sync}: it prepares main in the standby slot and switches to it. Make changes in ${ctx.config.repo}, never in the mirror.`,
      sync,
      { detail: shown.join('\n'), evidence: [`git status --porcelain in ${ctx.paths.worktree}`] },
    );
  },
};

export const aligned: Check = {
  id: 'aligned',
  title: 'Mirror serves main',
  dependsOn: ['slots', 'node'],
  async run(ctx) {
    const { remote, branch } = ctx.config;
    if (!ctx.options.network) return skip('skipped: network check off (--no-network)');
    const [{ head }, remoteHead] = await Promise.all([ctx.mirrorHead(), ctx.remoteHead()]);
    const rec = ctx.record();
    const evidence = [
      `mirror HEAD ${head}`,
      `git ls-remote ${remote} ${branch}: ${remoteHead.sha ?? remoteHead.error ?? 'no such branch'} (${remoteHead.ms} ms)`,
    ];
    const sync = syncCommand(ctx.config);
    if (remoteHead.error) {
      return warn(
        `could not reach ${remote} to compare (${remoteHead.error})`,
        `Check your network or VPN; the mirror keeps serving ${short(head)} meanwhile. Run doctor again once ${remote} answers.`,
        undefined,
        { evidence },
      );
    }
    if (!remoteHead.sha) {
      const again = installCommand({ ...ctx.config, branch: 'BRANCH' });
      return fail(
        `${remote} has no branch "${branch}"`,
        `Re-install with --branch set to the branch the site deploys from: ${again}.`,
        again,
        { evidence },
      );
    }
    const main = remoteHead.sha;
    if (head === main) return ok(`the mirror serves ${remote}/${branch} ${short(main)}`, { evidence });
    const running = await ctx.runningSync();
    // The running sync is what brings main in: not a finding while it works.
    if (running) {
      return ok(`the mirror serves ${short(head)} while main is ${short(main)}: ${describeRunningSync(running)}`, {
        evidence,
      });
    }
    const served = rec && rec.sha === head;
    // A main the last sync saw and could not deploy: the mirror is right to hold back.
    if (served && rec.targetSha === main && rec.status === 'rolled-back') {
      return warn(
        `main ${short(main)} is held back (it failed); the live slot serves the last good ${short(head)}`,
        heldBackFix(ctx.config),
        undefined,
        { evidence, detail: rec.message },
      );
    }
    if (served && rec.targetSha === main && rec.status === 'error') {
      return warn(
        `the last sync could not deploy main ${short(main)}; the mirror still serves ${short(head)}`,
        `Fix the cause the last sync names (above), then run ${sync}.`,
        sync,
        { evidence, detail: rec.message },
      );
    }
    // Main moved after the last sync looked: the sync job catches up on its next run.
    if (served && rec.targetSha !== main) {
      return warn(
        `main moved to ${short(main)} after the last sync (${rec.at}); the mirror serves ${short(head)}`,
        `The sync job deploys it within ${ctx.config.interval} s; run ${sync} to deploy it now.`,
        sync,
        { evidence },
      );
    }
    return fail(
      `the mirror is at ${short(head)}, but main is ${short(main)}`,
      `Run ${sync}: it prepares main in the standby slot and switches to it.`,
      sync,
      { evidence },
    );
  },
};
