/** The runtime side: a Node for the served commit and for main, and the installed dependencies. */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import * as git from '../../os/git.js';
import {
  describeEngines,
  getEngines,
  getNodeInstallCommand,
  resolveNode,
  type Engines,
  type NodeInstall,
} from '../../runtime/choose.js';
import { getLockHashOf, getMajor, hasPackageJson, readDepsStamp, readLockfile } from '../../runtime/deps.js';
import { describeError, OpsError, UserError } from '../../errors.js';
import { short } from '../../site/last-sync.js';
import { syncCommand } from '../../site/fix-commands.js';
import { fail, ok, skip, type Check, type CheckResult } from '../types.js';
import { describeRunningSync, type DoctorContext } from '../context.js';

function describeNode(n: NodeInstall): string {
  return `Node ${n.version} (${n.bin})`;
}

const LOOKED_IN = ' Looked in: ';

/** `stillServing`: for main, the commit the mirror keeps serving meanwhile. */
function noNode(
  ctx: DoctorContext,
  what: string,
  engines: Engines,
  err: unknown,
  stillServing: string | null,
): CheckResult {
  const sync = syncCommand(ctx.config);
  const message = describeError(err);
  const known = err instanceof OpsError || err instanceof UserError;
  const how = known && err.fix ? err.fix : 'Install a Node that satisfies it.';
  const still = stillServing ? `; the mirror still serves ${short(stillServing)}` : '';
  return fail(
    `${what} needs ${describeEngines(engines)}, which no installed Node satisfies${still}`,
    `${how} Then run ${sync}.`,
    ctx.config.node ? undefined : getNodeInstallCommand(engines.node),
    // Where it looked is long and the same every time: evidence, not detail.
    {
      detail: message.split(LOOKED_IN)[0],
      evidence: message.includes(LOOKED_IN) ? [`looked in: ${message.split(LOOKED_IN)[1]}`] : [],
    },
  );
}

export const node: Check = {
  id: 'node',
  title: 'Node for the served commit and main',
  dependsOn: ['canonical'],
  async run(ctx) {
    const [served, servedNode, mainSha] = await Promise.all([ctx.servedPackage(), ctx.servedNode(), ctx.mainSha()]);
    const servedEngines = getEngines(served.text);
    const evidence = [`served ${short(served.sha)}: engines ${describeEngines(servedEngines)}`];
    if (!servedNode.ok)
      return noNode(ctx, `the served commit ${short(served.sha)}`, servedEngines, servedNode.error, null);
    evidence.push(
      `served ${short(served.sha)} runs under ${describeNode(servedNode.value)} [${servedNode.value.source}]`,
    );
    let summary = `${describeNode(servedNode.value)} runs ${short(served.sha)}`;
    // main is judged as the sync job last fetched it: doctor itself fetches nothing.
    if (mainSha && mainSha !== served.sha) {
      const engines = getEngines(await git.showFile(ctx.config.repo, mainSha, 'package.json'));
      evidence.push(`main ${short(mainSha)}: engines ${describeEngines(engines)}`);
      let mainNode: NodeInstall;
      try {
        mainNode = await resolveNode(engines, { pin: ctx.config.node });
      } catch (err) {
        return noNode(ctx, `main ${short(mainSha)}`, engines, err, served.sha);
      }
      evidence.push(`main ${short(mainSha)} would run under ${describeNode(mainNode)} [${mainNode.source}]`);
      summary += `; main ${short(mainSha)} would run under Node ${mainNode.version}`;
    }
    return ok(summary, { evidence });
  },
};

export const dependencies: Check = {
  id: 'dependencies',
  title: 'Dependencies installed',
  // Not on node: main needing a missing Node says nothing about what the mirror has installed.
  dependsOn: ['slots'],
  async run(ctx) {
    const dir = ctx.paths.worktree;
    const sync = syncCommand(ctx.config);
    const running = await ctx.runningSync();
    if (running && !ctx.mirrorPresent()) {
      return skip(`skipped: no slot is live yet; ${describeRunningSync(running)}, preparing the first`);
    }
    if (!hasPackageJson(dir)) return ok('no package.json: nothing to install');
    const rerun = `Run ${sync}: it runs npm ci under the pinned Node.`;
    if (!existsSync(join(dir, 'node_modules'))) return fail('node_modules is missing in the mirror', rerun, sync);
    const lockText = readLockfile(dir);
    if (lockText === null) {
      return fail(
        'the mirror has no package-lock.json, which npm ci needs',
        'Commit package-lock.json (or npm-shrinkwrap.json) to main.',
        undefined,
      );
    }
    const stamp = readDepsStamp(dir);
    if (!stamp)
      return fail('node_modules was not installed by localhost-ops, so it may not match the lockfile', rerun, sync);
    const evidence = [
      `stamp: lockfile ${stamp.lockHash}, Node ${stamp.nodeVersion} (${stamp.nodeBin})`,
      `lockfile now ${getLockHashOf(lockText)}`,
    ];
    if (stamp.lockHash !== getLockHashOf(lockText)) {
      return fail('the lockfile changed since npm ci last ran', rerun, sync, { evidence });
    }
    const node = await ctx.servedNode();
    if (node.ok && getMajor(node.value.version) !== getMajor(stamp.nodeVersion)) {
      return fail(
        `installed under Node ${stamp.nodeVersion}, but the site now runs Node ${node.value.version}`,
        rerun,
        sync,
        { evidence },
      );
    }
    return ok(`installed from the current lockfile under Node ${stamp.nodeVersion}`, { evidence });
  },
};
