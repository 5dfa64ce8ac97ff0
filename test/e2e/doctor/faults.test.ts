/**
 * doctor from a healthy install, one fault at a time. Each fault is named by the right check
 * with a fix, the checks that depend on it are skipped, and then the fix (usually `sync`)
 * repairs it. One fixture serves the faults in turn, since each ends healthy.
 *
 * v2 layout: two detached worktrees slots/a and slots/b, localhost-worktree a link to the
 * live one (`f.worktree` is that link), and a server agent that holds the port. A sync never
 * resets the live slot: it prepares main in the standby slot and switches to it.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import {
  appendFileSync,
  existsSync,
  readFileSync,
  readlinkSync,
  realpathSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { createFixture, sh, withTimeout, type Fixture } from '../../helpers/fixture.js';
import { run } from '../../helpers/proc.js';
import { packageJson } from '../../helpers/site.js';
import {
  assertFault,
  assertHealthy,
  check,
  describe,
  doctorJson,
  getLiveSlot,
  getNextCommand,
  getOtherSlot,
  getSlotDir,
  installNodeWithNvm,
  runShellFix,
} from '../../helpers/inject.js';

const T = 180_000;

const faults = suite('doctor: one fault at a time on the process backend');
/** The checks that read the live slot, skipped when the slots check fails. */
const READ_THE_MIRROR = ['worktree-clean', 'aligned', 'dependencies', 'server-process', 'http'];
const TILDE_SLOTS = '~/ops-local/site/slots';
let fx: Fixture | null = null;

function need(): Fixture {
  if (!fx) throw new Error('the healthy-install test did not create the fixture');
  return fx;
}

/** The fix's promise: `sync` repairs the fault, and doctor is healthy again. */
async function syncRepairs(f: Fixture, args: string[] = []): Promise<void> {
  const s = await f.cli(['sync', ...args]);
  assert.is(s.code, 0, `sync did not repair it: ${s.stdout}${s.stderr}`);
  const { code, doc } = await doctorJson(f);
  assertHealthy(doc, code);
}

faults.after(async () => {
  await fx?.cleanup();
});

faults(
  'a healthy install: verdict ok, exit 0, every check ok, JSON as documented, under 2 s',
  withTimeout(T, async () => {
    fx = await createFixture('doctor says hi');
    const r = await fx.cli(fx.installArgs());
    assert.is(r.code, 0, r.stdout + r.stderr);
    await fx.waitForSyncs(2);
    const { code, doc } = await doctorJson(fx);
    assertHealthy(doc, code);
    assert.equal(Object.keys(doc), ['schemaVersion', 'site', 'url', 'servedSha', 'verdict', 'next', 'checks']);
    assert.is(doc.schemaVersion, 1);
    assert.is(doc.site, 'site');
    assert.equal(
      doc.checks.map((c) => c.id),
      [
        'node',
        'canonical',
        'slots',
        'worktree-clean',
        'aligned',
        'dependencies',
        'service',
        'server-port',
        'server-process',
        'framework',
        'http',
        'last-sync',
        'paths',
        'logs',
      ],
    );
    for (const c of doc.checks) {
      assert.equal(Object.keys(c), ['id', 'title', 'status', 'summary', 'detail', 'fix']);
      assert.is(c.status, 'ok', `${c.id}: ${c.summary}`);
    }
    assert.match(check(doc, 'aligned').summary, /serves origin\/main/);
    const live = getLiveSlot(fx);
    assert.match(
      check(doc, 'slots').summary,
      new RegExp(`^slot ${live} live at [0-9a-f]{7} .*; slot ${getOtherSlot(live)} standby, idle`),
    );
    assert.match(check(doc, 'server-process').summary, new RegExp(`in slot ${live} serves`));
    assert.match(check(doc, 'last-sync').detail ?? '', /^noop at /, 'last-sync details the status and message');
    // The network check included: the whole command, Node start to exit.
    let best = Infinity;
    for (let i = 0; i < 3; i++) {
      const started = Date.now();
      const t = await fx.cli(['doctor']);
      best = Math.min(best, Date.now() - started);
      assert.is(t.code, 0, t.stdout);
    }
    assert.ok(best < 2000, `a healthy doctor took ${best} ms`);
  }),
);

faults(
  'JSON: the documented v2 document (url, servedSha, next beside the verdict and the checks)',
  withTimeout(T, async () => {
    const f = need();
    const { code, doc } = await doctorJson(f);
    assertHealthy(doc, code);
    // DESIGN §6: { schemaVersion, site, url, servedSha, verdict, next, checks }.
    assert.equal(Object.keys(doc), ['schemaVersion', 'site', 'url', 'servedSha', 'verdict', 'next', 'checks']);
    assert.is(doc.url, `http://127.0.0.1:${f.port}/`);
    assert.is(doc.servedSha, await sh(f.worktree, 'git', ['rev-parse', 'HEAD']));
    assert.match(doc.next ?? '', /^nothing to do/);
  }),
);

faults(
  'text: one line per check with ✓ ! ✗ -, ~ for $HOME, a verdict and the next command; colour only when asked',
  withTimeout(T, async () => {
    const f = need();
    const plain = await f.cli(['doctor', '--no-network']);
    assert.is(plain.code, 0);
    assert.not.match(plain.stdout, /\x1b\[/, 'no colour under NO_COLOR / non-TTY');
    assert.not.ok(plain.stdout.includes(f.home), `$HOME is shown as ~:\n${plain.stdout}`);
    assert.match(plain.stdout, /^✓ canonical {7}~\/dev\/site: origin\/main at /m);
    const lines = plain.stdout.trimEnd().split('\n');
    assert.match(lines[0], /^localhost-ops doctor: site "site"/);
    assert.match(plain.stdout, /^✓ node {12}/m);
    assert.match(plain.stdout, /^- aligned {9}skipped: network check off/m);
    assert.match(lines[lines.length - 2], /^Verdict: ok/);
    assert.match(lines[lines.length - 1], /^Next: nothing to do/);
    const coloured = await f.cli(['doctor', '--no-network'], { NO_COLOR: '', FORCE_COLOR: '1' });
    assert.match(coloured.stdout, /\x1b\[/, 'FORCE_COLOR colours it');
    const stripped = coloured.stdout.replace(/\x1b\[[0-9;]*m/g, '');
    const shape = (t: string) => t.split('\n').map((l) => l.slice(0, 18));
    assert.equal(shape(stripped), shape(plain.stdout), 'the same layout with colour');
    const verbose = await f.cli(['doctor', '--no-network', '-v']);
    assert.match(verbose.stdout, /· slot [ab]: worktree at [0-9a-f]{40}, detached/, '-v shows evidence');
  }),
);

faults(
  'an edit in the live slot: worktree-clean fails; sync serves main from the other slot',
  withTimeout(T, async () => {
    const f = need();
    const edited = getLiveSlot(f);
    appendFileSync(join(f.worktree, 'content.txt'), 'my local edit\n');
    writeFileSync(join(f.worktree, 'scratch.txt'), 'stray\n');
    const { code, doc } = await doctorJson(f);
    const c = assertFault(doc, code, {
      id: 'worktree-clean',
      status: 'fail',
      fix: /localhost-ops sync --name site: it prepares main in the standby slot and switches to it/,
    });
    assert.match(c.detail ?? '', /M content\.txt/);
    assert.match(c.detail ?? '', /\?\? scratch\.txt/);
    await syncRepairs(f);
    assert.is((await f.get()).body, 'site says: doctor says hi\n');
    // v2: nothing resets a live slot. The sync prepared main in the standby slot and switched
    // to it, so the edits are no longer served; they stay in the slot that is now the standby
    // until a later sync prepares it (checkout --force, clean -fd).
    assert.is(getLiveSlot(f), getOtherSlot(edited), 'the sync switched slots');
    assert.match(readFileSync(join(getSlotDir(f, edited), 'content.txt'), 'utf8'), /my local edit/);
  }),
);

faults(
  'the mirror behind main: aligned warns until the sync job catches up; sync deploys it',
  withTimeout(T, async () => {
    const f = need();
    const sha = await f.push({ 'content.txt': 'newer main\n' });
    const { code, doc } = await doctorJson(f);
    const c = assertFault(doc, code, { id: 'aligned', status: 'warn', fix: /localhost-ops sync --name site/ });
    assert.match(c.summary, new RegExp(`main moved to ${sha.slice(0, 7)}`));
    await syncRepairs(f);
    assert.is((await f.get()).body, 'site says: newer main\n');
  }),
);

faults(
  'an unreachable forge: aligned warns (and --no-network skips it)',
  withTimeout(T, async () => {
    const f = need();
    renameSync(f.forge, `${f.forge}.away`);
    try {
      const { code, doc } = await doctorJson(f);
      const c = assertFault(doc, code, { id: 'aligned', status: 'warn', fix: /network/ });
      assert.match(c.summary, /could not reach origin/);
      const off = await doctorJson(f, ['--no-network']);
      assertHealthy(off.doc, off.code);
      assert.match(check(off.doc, 'aligned').summary, /--no-network/);
    } finally {
      renameSync(`${f.forge}.away`, f.forge);
    }
  }),
);

faults(
  'a slot on a branch: slots warns and names the git command that detaches it; that command repairs it',
  withTimeout(T, async () => {
    const f = need();
    // The first release's "mirror on another branch". v2 slots are detached worktrees: one
    // that holds a branch keeps git from checking that branch out (or deleting it) in the clone.
    const live = getLiveSlot(f);
    await sh(f.worktree, 'git', ['checkout', '-q', '-b', 'somebody-elses']);
    const { code, doc } = await doctorJson(f);
    const c = assertFault(doc, code, {
      id: 'slots',
      status: 'warn',
      fix: new RegExp(`git -C ${TILDE_SLOTS}/${live} checkout --detach`),
    });
    assert.match(c.summary, new RegExp(`slot ${live} has the branch somebody-elses checked out`));
    const held = await run('git', ['branch', '-D', 'somebody-elses'], { cwd: f.canonical, allowFail: true });
    assert.is.not(held.code, 0, 'git keeps a branch a slot holds');
    const next = await getNextCommand(f);
    assert.is(next, `git -C ${TILDE_SLOTS}/${live} checkout --detach`);
    await runShellFix(f, next);
    assert.is(await sh(f.worktree, 'git', ['rev-parse', '--abbrev-ref', 'HEAD']), 'HEAD', 'detached again');
    await sh(f.canonical, 'git', ['branch', '-q', '-D', 'somebody-elses']);
    const after = await doctorJson(f);
    assertHealthy(after.doc, after.code);
  }),
);

faults(
  'a slot that is not a worktree of the canonical repo: slots fails, its dependents skip; sync recreates it',
  withTimeout(T, async () => {
    const f = need();
    // A repo of its own on another branch where the standby slot was: git works in it, but
    // it is not the canonical repo's worktree, so no sync could prepare main there.
    const standby = getOtherSlot(getLiveSlot(f));
    const dir = getSlotDir(f, standby);
    rmSync(join(dir, '.git'), { recursive: true, force: true });
    await sh(dir, 'git', ['init', '-q', '-b', 'somebody-elses']);
    await sh(dir, 'git', ['add', '-A']);
    await sh(dir, 'git', ['commit', '-q', '-m', 'not ours']);
    const { code, doc } = await doctorJson(f);
    const c = assertFault(doc, code, {
      id: 'slots',
      status: 'fail',
      fix: /localhost-ops sync --name site: it recreates missing slots/,
      skipped: READ_THE_MIRROR,
    });
    assert.match(c.summary, new RegExp(`slot ${standby} is missing or not a worktree of ~/dev/site`));
    await syncRepairs(f);
    // A detached worktree of the canonical repo again.
    assert.is(await sh(dir, 'git', ['rev-parse', '--abbrev-ref', 'HEAD']), 'HEAD');
    const common = await sh(dir, 'git', ['rev-parse', '--path-format=absolute', '--git-common-dir']);
    assert.is(realpathSync(common), realpathSync(join(f.canonical, '.git')));
  }),
);

faults(
  'localhost-worktree pointing elsewhere: slots fails, its dependents skip; removing it and syncing repairs it',
  withTimeout(T, async () => {
    const f = need();
    const live = getLiveSlot(f);
    // Named like a slot, but another site's: a link is judged by the folder it leads to.
    const elsewhere = join(f.opsHome, 'other', 'slots', live);
    rmSync(f.worktree);
    symlinkSync(elsewhere, f.worktree);
    const { code, doc } = await doctorJson(f);
    const c = assertFault(doc, code, {
      id: 'slots',
      status: 'fail',
      fix: /Remove the link, then run localhost-ops sync --name site/,
      skipped: READ_THE_MIRROR,
    });
    assert.match(
      c.summary,
      new RegExp(`localhost-worktree points at ~/ops-local/other/slots/${live}, not at the live slot ${live}`),
    );
    const next = await getNextCommand(f);
    assert.is(next, 'rm ~/ops-local/site/localhost-worktree && localhost-ops sync --name site');
    await runShellFix(f, next);
    assert.is(readlinkSync(f.worktree), join('slots', live));
    const after = await doctorJson(f);
    assertHealthy(after.doc, after.code);
  }),
);

faults(
  'node_modules deleted: dependencies fails; sync serves main from a slot whose npm ci is current',
  withTimeout(T, async () => {
    const f = need();
    const emptied = getLiveSlot(f);
    rmSync(join(f.worktree, 'node_modules'), { recursive: true, force: true });
    const { code, doc } = await doctorJson(f);
    const c = assertFault(doc, code, { id: 'dependencies', status: 'fail', fix: /localhost-ops sync --name site/ });
    assert.match(c.summary, /node_modules is missing/);
    await syncRepairs(f);
    // v2: the sync does not run npm ci under the live server; it prepares the standby slot
    // (npm ci there when its node_modules is not current) and switches to it.
    assert.is(getLiveSlot(f), getOtherSlot(emptied), 'the sync switched slots');
    assert.ok(existsSync(join(f.worktree, 'node_modules', 'greeting')));
  }),
);

faults(
  'last-sync.env deleted: last-sync fails; sync writes it again',
  withTimeout(T, async () => {
    const f = need();
    rmSync(join(f.siteDir(), 'last-sync.env'));
    const { code, doc } = await doctorJson(f);
    const c = assertFault(doc, code, { id: 'last-sync', status: 'fail', fix: /localhost-ops sync --name site/ });
    assert.match(c.summary, /last-sync\.env is missing/);
    await syncRepairs(f);
    assert.ok(f.record());
  }),
);

faults(
  'the live slot deleted, then the link deleted: slots fails, everything that reads it skips; sync recreates each',
  withTimeout(T, async () => {
    const f = need();
    // The first release's "mirror folder deleted": now the live slot's folder (its dev server
    // keeps running from a deleted folder until a request comes), and then the link.
    const live = getLiveSlot(f);
    rmSync(getSlotDir(f, live), { recursive: true, force: true });
    const { code, doc } = await doctorJson(f);
    const c = assertFault(doc, code, {
      id: 'slots',
      status: 'fail',
      fix: /localhost-ops sync --name site: it recreates missing slots/,
      skipped: READ_THE_MIRROR,
    });
    assert.match(c.summary, new RegExp(`slot ${live} is missing or not a worktree of ~/dev/site`));
    await syncRepairs(f);
    assert.ok(existsSync(join(getSlotDir(f, live), 'content.txt')), 'the slot is back');
    assert.is((await f.get()).body, 'site says: newer main\n');

    const serving = getLiveSlot(f);
    rmSync(f.worktree);
    const gone = await doctorJson(f);
    const l = assertFault(gone.doc, gone.code, {
      id: 'slots',
      status: 'fail',
      fix: /localhost-ops sync --name site: it repairs the link/,
      skipped: READ_THE_MIRROR,
    });
    assert.match(l.summary, new RegExp(`localhost-worktree points at nothing, not at the live slot ${serving}`));
    await syncRepairs(f);
    assert.is(readlinkSync(f.worktree), join('slots', serving));
    assert.is((await f.get()).body, 'site says: newer main\n');
  }),
);

faults(
  'the server agent killed: service fails, the checks that ask it skip; sync restarts it',
  withTimeout(T, async () => {
    const f = need();
    const pid = f.serverPid();
    // kill -9 of the agent's group; its dev servers, each in a group of their own, are left
    // behind (the next agent ends them), but nothing holds the port.
    await f.killServer();
    const { code, doc } = await doctorJson(f);
    const c = assertFault(doc, code, {
      id: 'service',
      status: 'fail',
      fix: /localhost-ops sync --name site/,
      skipped: ['server-port', 'server-process', 'framework', 'http'],
    });
    assert.match(c.summary, new RegExp(`server job is not running: pid ${pid} is gone`));
    await syncRepairs(f);
    assert.is.not(f.serverPid(), pid, 'a new server agent');
    assert.is((await f.get()).body, 'site says: newer main\n');
  }),
);

faults(
  'a stray server holds the port while the agent is down: server-port names it; kill it, then sync',
  withTimeout(T, async () => {
    const f = need();
    await f.killServer();
    const stray = await f.startStrayServer();
    try {
      const { code, doc } = await doctorJson(f);
      // v2: the port is the server agent's, so server-port names the stranger; service warns
      // (its server is down because of the stray) and points the same way.
      const c = assertFault(doc, code, {
        id: 'server-port',
        status: 'fail',
        fix: new RegExp(`kill ${stray.pid}\\b.*localhost-ops sync --name site`),
        skipped: ['server-process', 'framework', 'http'],
        alsoWarn: ['service'],
      });
      assert.match(c.summary, new RegExp(`pid ${stray.pid}`));
      assert.match(c.detail ?? '', new RegExp(`cwd +${stray.dir.replace(f.home, '~')}`));
      assert.match(c.detail ?? '', /command +.*node -e/);
      assert.match(check(doc, 'service').fix ?? '', new RegExp(`kill ${stray.pid}`));
      assert.match(check(doc, 'service').summary, /\(see server-port\)/);
      const text = await f.cli(['doctor']);
      assert.match(text.stdout, new RegExp(`^Next: kill ${stray.pid} && localhost-ops sync --name site$`, 'm'));
    } finally {
      await stray.stop();
    }
    await syncRepairs(f);
    assert.is((await f.get()).body, 'site says: newer main\n');
  }),
);

faults(
  'writeDiagnosis: the text report without the network check or colour, beside last-sync.env',
  withTimeout(T, async () => {
    const f = need();
    appendFileSync(join(f.worktree, 'content.txt'), 'an edit\n');
    const { writeDiagnosis } = await import('../../../src/doctor/index.js');
    const { getSitePaths } = await import('../../../src/site/paths.js');
    const config = JSON.parse(readFileSync(join(f.siteDir(), 'config.json'), 'utf8'));
    await withEnv(
      { HOME: f.home, LOCALHOST_OPS_HOME: f.opsHome, NVM_DIR: f.env.NVM_DIR, FORCE_COLOR: '1', NO_COLOR: undefined },
      () => writeDiagnosis({ name: 'site', config, paths: getSitePaths('site', f.opsHome) }),
    );
    const file = join(f.siteDir(), 'last-diagnosis.txt');
    assert.is(statSync(file).mode & 0o777, 0o644);
    const text = readFileSync(file, 'utf8');
    assert.not.match(text, /\x1b\[/, 'never colour in the file');
    assert.match(text, /^Written by the sync at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d because its status changed/m);
    assert.match(text, /^- aligned {9}skipped: network check off/m);
    assert.match(text, /^✗ worktree-clean {2}1 local edit in the mirror/m);
    assert.match(text, /^Next: localhost-ops sync --name site$/m);
    assert.not.ok(text.includes(f.home), '$HOME shown as ~');
    await syncRepairs(f);
  }),
);

faults(
  'main needs a Node nobody installed: node fails and says which and how; installing it and syncing repairs',
  withTimeout(T, async () => {
    const f = need();
    const good = await sh(f.worktree, 'git', ['rev-parse', 'HEAD']);
    const bad = await f.push({ 'package.json': packageJson({ engines: { node: '>=99' } }) }, 'require node 99');
    const s = await f.cli(['sync']);
    assert.is(s.code, 1, 'sync refuses a main no Node can run');
    const { code, doc } = await doctorJson(f);
    assert.is(code, 1);
    const c = check(doc, 'node');
    assert.is(c.status, 'fail', describe(doc));
    assert.match(
      c.summary,
      new RegExp(
        `main ${bad.slice(0, 7)} needs node ">=99", which no installed Node satisfies; the mirror still serves ${good.slice(0, 7)}`,
      ),
    );
    assert.match(c.fix ?? '', /brew install node@99/);
    assert.match(c.fix ?? '', /nvm install 99/);
    assert.match(c.fix ?? '', /localhost-ops sync --name site/);
    assert.is(check(doc, 'aligned').status, 'skip', 'aligned depends on node');
    // The failed sync is recorded too (last-sync, and the logs quote its preflight).
    assert.is(check(doc, 'last-sync').status, 'fail');
    assert.match(check(doc, 'last-sync').detail ?? '', /No installed Node satisfies node ">=99"/);
    for (const o of doc.checks)
      if (!['node', 'aligned', 'last-sync', 'logs'].includes(o.id)) assert.is(o.status, 'ok', `${o.id}: ${o.summary}`);
    assert.is((await f.get()).body, 'site says: newer main\n', 'still serving the last good commit');

    installNodeWithNvm(f, '99.0.0');
    const repaired = await f.cli(['sync']);
    assert.is(repaired.code, 0, repaired.stdout + repaired.stderr);
    const after = await doctorJson(f);
    assert.is(check(after.doc, 'node').status, 'ok', describe(after.doc));
    assert.match(check(after.doc, 'node').summary, /Node 99\.0\.0/);
    assert.is(check(after.doc, 'aligned').status, 'ok');
    assert.is(check(after.doc, 'last-sync').status, 'ok');
    // The jobs' definitions are install's record: a new Node for main reloads nothing, and
    // there is no drift to report (run and npm ci put the served commit's Node first).
    assertHealthy(after.doc, after.code);
  }),
);

faults(
  'bad input exits 2 with one sentence; nothing on stdout, or with --json the error as one JSON document',
  withTimeout(T, async () => {
    const f = need();
    const r = await f.cli(['doctor', '--name', 'nope']);
    assert.is(r.code, 2);
    assert.is(r.stdout, '');
    assert.match(r.stderr, /^localhost-ops: No site named "nope" is installed \(installed: site\)\./);
    assert.is(r.stderr.trim().split('\n').length, 1);
    // DESIGN §1 (v2): "--json bad input also prints {"error": "...", "fix": "..."} on stdout".
    const j = await f.cli(['doctor', '--name', 'nope', '--json']);
    assert.is(j.code, 2);
    assert.is(j.stderr, r.stderr);
    assert.is(j.stdout.trim().split('\n').length, 1, 'one JSON document');
    const err = JSON.parse(j.stdout) as { error: string; fix: string };
    assert.equal(Object.keys(err), ['error', 'fix']);
    assert.match(err.error, /^No site named "nope" is installed \(installed: site\)\.$/);
    assert.match(err.fix, /--name site/);
  }),
);

faults.run();

/** Runs fn with these variables set in this process (undefined removes one), then restores them. */
async function withEnv<T>(vars: Record<string, string | undefined>, fn: () => Promise<T>): Promise<T> {
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  const apply = (v: Record<string, string | undefined>) => {
    for (const [k, value] of Object.entries(v)) {
      if (value === undefined) delete process.env[k];
      else process.env[k] = value;
    }
  };
  apply(vars);
  try {
    return await fn();
  } finally {
    apply(saved);
  }
}
