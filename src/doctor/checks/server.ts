/** The serving side: the two jobs, who listens on the port, and whether it answers. */
import { existsSync } from 'node:fs';
import { describeError } from '../../errors.js';
import { describeListener, isSiteProcess } from '../../run/health.js';
import { formatUrl, probeHttp } from '../../os/http.js';
import { getProcessCwd, getTreeListeners, isInside, isLoopbackAddress, type Listener } from '../../os/listeners.js';
import type { JobKind } from '../../service/jobs.js';
import { installCommand, syncCommand } from '../../site/fix-commands.js';
import { diffDefinitions } from '../installed.js';
import { fail, ok, skip, warn, type Check } from '../types.js';
import { describeRunningSync, waitForSync } from '../context.js';

/** doctor's HTTP probe waits at most this long (DESIGN §3 limits). */
export const HTTP_TIMEOUT_MS = 5000;

function getForeign(listeners: Listener[], siteDir: string): Listener[] {
  return listeners.filter((l) => l.cwd !== null && !isSiteProcess(l, siteDir));
}

export const service: Check = {
  id: 'service',
  title: 'Background jobs',
  // Jobs on an external volume or running a tool that moved are the paths check's finding.
  dependsOn: ['paths'],
  async run(ctx) {
    const kind = ctx.config.service;
    const install = installCommand(ctx.config);
    const sync = syncCommand(ctx.config);
    const facts = await ctx.service();
    if (!facts.ok) {
      return fail(
        `could not read the ${kind} jobs' status: ${describeError(facts.error)}`,
        `Run ${install} to install and load the jobs again.`,
        install,
      );
    }
    const { status, specs, installed, backend } = facts.value;
    const jobs: JobKind[] = ['sync', 'server'];
    const evidence = jobs.map((k) => {
      const s = status[k];
      return `${k} job: ${s.installed ? 'installed' : 'not installed'}, ${s.running ? 'running' : 'not running'}, ${s.current ? 'definition current' : 'definition differs'}; ${s.detail} (${installed[k].path})`;
    });
    const missing = jobs.filter((k) => !status[k].installed);
    if (missing.length) {
      return fail(
        `the ${missing.join(' and ')} job${missing.length > 1 ? 's are' : ' is'} not installed`,
        `Run ${install}: it installs and starts them.`,
        install,
        { evidence },
      );
    }
    // What the definitions say that install would not: a hand edit, a Node or tool that moved.
    const drift: string[] = [];
    const gone: string[] = [];
    for (const k of jobs) {
      // The Node binary; a moved tool (the second argument) is the paths check's finding.
      const bin = installed[k].programArguments?.[0];
      if (bin?.startsWith('/') && !existsSync(bin)) gone.push(`the ${k} job runs Node ${bin}, which no longer exists`);
      if (status[k].current) continue;
      const have = installed[k].data;
      const want = await backend.renderDefinition(specs.find((s) => s.kind === k)!);
      const lines = have && want ? diffDefinitions(have, want) : [];
      drift.push(
        ...(lines.length
          ? lines.map((l) => `${k}: ${l}`)
          : [`${k}: ${installed[k].path} differs from what install would write`]),
      );
    }
    const detail = [...gone, ...drift].join('\n') || undefined;
    const rewrite = `Run ${install}: it rewrites and reloads only what changed.`;
    if (gone.length) return fail(gone[0], rewrite, install, { detail, evidence });
    const caveats = await backend.getCaveats(ctx.site);
    evidence.push(...caveats.evidence);
    const reboot = caveats.whenDown;
    if (!status.sync.running) {
      return fail(
        `the sync job is not running: ${status.sync.detail}${reboot}`,
        `Run ${install}: it starts the jobs again.`,
        install,
        { detail, evidence },
      );
    }
    if (!status.server.running) {
      const foreign = getForeign(await ctx.listeners(), ctx.paths.dir);
      // Then the stranger on the port is the cause, and server-process names it.
      if (foreign.length) {
        const pid = foreign[0].pid;
        return warn(
          `the server job is not running while another program holds port ${ctx.config.port} (see server-port)`,
          `Stop that program${pid ? ` (kill ${pid})` : ''}, then run ${sync}.`,
          pid ? `kill ${pid} && ${sync}` : undefined,
          { detail, evidence },
        );
      }
      return fail(
        `the server job is not running: ${status.server.detail}`,
        `Run ${sync}: it restarts the server.`,
        sync,
        { detail, evidence },
      );
    }
    const drifted = jobs.filter((k) => !status[k].current);
    if (drifted.length) {
      const which = `${drifted.join(' and ')} job definition${drifted.length > 1 ? 's differ' : ' differs'}`;
      return warn(`the installed ${which} from what install would write now`, rewrite, install, { detail, evidence });
    }
    if (caveats.warning) {
      const w = caveats.warning;
      return warn(w.summary, w.fix, w.command, { evidence });
    }
    return ok(`sync job ${status.sync.detail}; server job ${status.server.detail} (${kind} backend${caveats.note})`, {
      evidence,
    });
  },
};

export const serverPort: Check = {
  id: 'server-port',
  title: 'The server agent holds the port',
  dependsOn: ['service'],
  async run(ctx) {
    const { host, port, allowRemote } = ctx.config;
    const [listeners, agent] = await Promise.all([ctx.listeners(), ctx.agent()]);
    const evidence = listeners.map((l) => `${l.address}:${l.port} ← ${describeListener(l)}`);
    const restart = `localhost-ops restart --name ${ctx.site.name}`;
    const install = installCommand(ctx.config);
    const sync = syncCommand(ctx.config);
    if (listeners.length === 0) {
      return fail(`nothing listens on ${host}:${port}`, `Run ${install}: it starts the server agent again.`, install, {
        evidence,
      });
    }
    const foreign = getForeign(listeners, ctx.paths.dir);
    if (foreign.length) {
      const f = foreign[0];
      const detail = [
        `pid      ${f.pid ?? '?'}`,
        `command  ${f.command ?? '?'}`,
        `cwd      ${f.cwd ?? '?'}`,
        `site     ${ctx.paths.dir}`,
      ].join('\n');
      // An agent that found the port taken has exited (and the process backend does not
      // restart it): the sync starts it again once the port is free, on every backend.
      return fail(
        `port ${port} is held by another program, not the server agent: ${describeListener(f)}`,
        `Stop it${f.pid ? ` (kill ${f.pid})` : ''}, then run ${sync}: it starts the server agent on the port again.`,
        f.pid ? `kill ${f.pid} && ${sync}` : undefined,
        { detail, evidence },
      );
    }
    const addresses = [...new Set(listeners.map((l) => l.address))];
    const exposed = addresses.filter((a) => !isLoopbackAddress(a));
    if (exposed.length && !allowRemote) {
      return fail(
        `port ${port} is open beyond loopback (${exposed.join(', ')}), so the mirror is reachable from the network`,
        `Re-install with --host 127.0.0.1: ${install}.`,
        install,
        { evidence },
      );
    }
    if (!agent) {
      return fail(
        `${host}:${port} is held, but the server agent does not answer on its control socket`,
        `Run ${restart}.`,
        restart,
        { evidence },
      );
    }
    evidence.push(`agent pid ${agent.pid}, control socket ${agent.controlSocket}`);
    return ok(`the server agent (pid ${agent.pid}) holds ${host}:${port}${allowRemote ? '' : ', on loopback only'}`, {
      evidence,
    });
  },
};

export const serverProcess: Check = {
  id: 'server-process',
  title: 'The live dev server runs from the live slot',
  dependsOn: ['server-port', 'slots'],
  async run(ctx) {
    const [agent, running] = await Promise.all([ctx.agent(), ctx.runningSync()]);
    const sync = syncCommand(ctx.config);
    const logs = `localhost-ops logs --name ${ctx.site.name} --server`;
    const wait = waitForSync(ctx.site.name);
    if (!agent?.live && running) {
      return warn(`no slot is live yet: ${describeRunningSync(running)}, preparing the first`, wait.fix, wait.command);
    }
    if (!agent?.live) return fail('no slot is live', `Run ${sync}, and read its message.`, sync);
    const s = agent.slots[agent.live];
    const evidence = [
      `slot ${s.slot}: ${s.phase}, sha ${s.sha ?? '?'}, pid ${s.pid ?? '-'}, inner port ${s.port ?? '-'}, restarts ${s.restarts}`,
      `command: ${s.command ?? '?'}${s.framework ? ` (${s.framework})` : ''}`,
    ];
    if (s.phase === 'starting' && running) {
      // The sync restarts the live server in place (it sat on main but was not healthy).
      return warn(
        `the live dev server (slot ${s.slot}) is being restarted: ${describeRunningSync(running)}`,
        wait.fix,
        wait.command,
        { evidence },
      );
    }
    if (s.phase !== 'healthy' || s.pid === null || s.port === null) {
      return fail(
        `the live dev server (slot ${s.slot}) is ${s.phase}${s.lastError ? `: ${s.lastError}` : ''}${s.restarts ? `; restarted ${s.restarts} times` : ''}`,
        `Read ${logs}; the agent restarts it with a growing pause, and a fix pushed to main is served once it passes the gate.`,
        logs,
        { evidence },
      );
    }
    const cwd = await getProcessCwd(s.pid);
    const own = (await getTreeListeners(s.pid)) ?? [];
    evidence.push(
      `cwd ${cwd ?? '?'}`,
      `listens on ${own.map((l) => `${l.address}:${l.port}`).join(', ') || '(unknown)'}`,
    );
    if (cwd && !isInside(cwd, ctx.paths.slots[s.slot])) {
      return fail(`the live dev server (pid ${s.pid}) runs in ${cwd}, not in slot ${s.slot}`, `Run ${sync}.`, sync, {
        evidence,
      });
    }
    if (own.length && !own.some((l) => l.port === s.port)) {
      return fail(
        `the live dev server listens on ${own.map((l) => l.port).join(', ')}, not on ${s.port} where it was told`,
        `Run ${sync}.`,
        sync,
        { evidence },
      );
    }
    const restarts = s.restarts ? `; restarted ${s.restarts} times after crashes` : '';
    return ok(`pid ${s.pid} in slot ${s.slot} serves ${(s.sha ?? '').slice(0, 7)} on 127.0.0.1:${s.port}${restarts}`, {
      evidence,
    });
  },
};

export const framework: Check = {
  id: 'framework',
  title: 'Dev server command',
  dependsOn: ['server-port'],
  async run(ctx) {
    const agent = await ctx.agent();
    const install = installCommand(ctx.config);
    if (!agent) return skip('skipped: the server agent does not answer');
    const slots = [agent.live, agent.live === 'a' ? 'b' : 'a'].filter((s): s is 'a' | 'b' => s !== null);
    const evidence = slots.map((s) => {
      const st = agent.slots[s];
      return `slot ${s}: ${st.framework ?? 'no framework detected'}: ${st.command ?? '(not started)'}${st.lastError ? `; last error: ${st.lastError}` : ''}`;
    });
    const wrong = slots.map((s) => agent.slots[s]).find((st) => st.lastBlame === 'command');
    if (wrong) {
      return fail(
        `the dev server command does not fit this site: ${wrong.lastError}`,
        `Re-install with the --command it names (now "${ctx.config.command}"): start from ${install}.`,
        install,
        { evidence },
      );
    }
    const live = agent.live ? agent.slots[agent.live] : null;
    if (!live?.command) return skip('skipped: no dev server has been started yet', { evidence });
    const what =
      live.framework ??
      (ctx.config.command === 'auto' ? 'no framework detected: HOST and PORT in its environment' : 'your --command');
    return ok(`${what}: ${live.command}`, { evidence });
  },
};

export const http: Check = {
  id: 'http',
  title: 'The site answers',
  dependsOn: ['server-process'],
  async run(ctx) {
    const { host, port, healthPath } = ctx.config;
    const [agent, running] = await Promise.all([ctx.agent(), ctx.runningSync()]);
    const live = agent?.live ? agent.slots[agent.live] : null;
    if (running && (!live || live.phase === 'starting')) {
      // Nothing serves until the running sync has a live server: not a finding yet.
      return skip(`skipped: ${describeRunningSync(running)}, and no live server answers until it is done`);
    }
    const url = formatUrl(host, port, healthPath);
    const started = Date.now();
    const probe = await probeHttp(host, port, healthPath, HTTP_TIMEOUT_MS);
    const ms = Date.now() - started;
    const evidence = [`GET ${url} → ${probe.status ?? probe.error} in ${ms} ms`];
    const sync = syncCommand(ctx.config);
    const log = ctx.paths.serverLog;
    if (probe.status === null) {
      return fail(
        `${url} did not answer (${probe.error})`,
        `Run ${sync}: it restarts the server. If this comes back, read ${log}.`,
        sync,
        { evidence },
      );
    }
    if (probe.status >= 500) {
      return fail(
        `${url} answered ${probe.status}: the site's own code fails`,
        `Read the error in ${log}, push a fix to main, or run ${sync} to restart the server.`,
        `tail -n 50 ${log}`,
        { evidence },
      );
    }
    return ok(`${url} answered ${probe.status} in ${ms} ms`, { evidence });
  },
};
