/**
 * What users of LaunchAgents meet, through the launchctl stand-in told to fail with
 * launchctl's real codes (test/helpers/bin/launchctl, "Faults"): install refuses a site
 * folder where macOS keeps launchd's jobs out; 37 is waited out; a 5 is cured by a bootout
 * that is waited for and one retry; a restart that finds no service (113) bootstraps; with
 * gui/<uid> refused (125) both agents load in user/<uid>, and install and doctor say so; a
 * failure a retry does not cure is one sentence with its fix; a refusal in a job's log
 * makes doctor name what to grant.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { appendFileSync, existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { getAgentPath } from '../../../src/service/launchd/index.js';
import { type CliResult, type Fixture, createFixture, sh, waitFor, withTimeout } from '../../helpers/fixture.js';
import { getFreePort } from '../../helpers/proc.js';
import {
  UID,
  changingCalls,
  launchctl,
  readCalls,
  readFaults,
  readRunState,
  setFaults,
  standinEnv,
  stopStandin,
  type Call,
} from '../../helpers/launchctl-standin.js';
import { check, doctorJson } from '../../helpers/inject.js';

const faults = suite('launchd: launchctl failures decoded and recovered');
let fx: Fixture | null = null;
const env = standinEnv();
const KINDS = ['sync', 'server'] as const;
const LABEL = { sync: 'localhost-ops.site.sync', server: 'localhost-ops.site.server' };

function need(): Fixture {
  if (!fx) throw new Error('the first test did not create the fixture');
  return fx;
}

function agentPath(kind: 'sync' | 'server'): string {
  return getAgentPath(LABEL[kind], need().home);
}

function failed(r: CliResult): string {
  return `exit ${r.code}\n${r.stdout}\n${r.stderr}`;
}

/** The calls since `mark`, as "args → code" (injected ones marked), for assertions and messages. */
function callsSince(mark: number): Call[] {
  return readCalls(need().home).slice(mark);
}

function show(calls: Call[]): string {
  return calls.map((c) => `${c.args.join(' ')} → ${c.code}${c.injected ? ' (injected)' : ''}`).join('\n');
}

faults.after(async () => {
  if (!fx) return;
  await stopStandin(fx.home);
  await fx.cleanup();
});

faults(
  'install refuses a site folder in ~/Documents, also through a symlink, with the EPERM explanation: exit 2, nothing written',
  withTimeout(60_000, async () => {
    fx = await createFixture('hello from a launchd with faults');
    const f = fx;
    const documents = join(f.home, 'Documents');
    mkdirSync(join(documents, 'real'), { recursive: true });
    symlinkSync(join(documents, 'real'), join(f.home, 'ops-link'));
    const cases = [
      { home: join(documents, 'ops-local'), really: false },
      { home: join(f.home, 'ops-link'), really: true },
    ];
    for (const c of cases) {
      const r = await f.cli(f.installArgs({ service: 'launchd' }), { ...env, LOCALHOST_OPS_HOME: c.home });
      assert.is(r.code, 2, failed(r));
      assert.match(r.stderr, /The site folder .* is in ~\/Documents, where macOS keeps launchd's jobs out/);
      assert.match(r.stderr, /"Operation not permitted" \(EPERM\)/);
      assert.match(r.stderr, /Set LOCALHOST_OPS_HOME to a folder outside ~\/Documents/);
      if (c.really) assert.match(r.stderr, /\(really ~\/Documents\/real\/site\)/);
      assert.not.match(r.stderr, /\n\s+at /, 'no stack trace');
    }
    // Nothing written: no site folder, no plist, no launchd call that changes anything.
    assert.equal(readdirSync(join(documents, 'real')), []);
    assert.not.ok(existsSync(join(documents, 'ops-local')));
    assert.not.ok(existsSync(join(f.home, 'Library', 'LaunchAgents')));
    assert.equal(changingCalls(readCalls(f.home)), []);
  }),
);

faults(
  'install succeeds after one 37 (waited out) and the first bootstrap it answers; the agents serve main',
  withTimeout(180_000, async () => {
    const f = need();
    setFaults(f.home, [{ command: 'bootstrap', code: 37, times: 1 }]);
    const r = await f.cli(f.installArgs({ service: 'launchd' }), env);
    assert.is(r.code, 0, failed(r));
    assert.equal(readFaults(f.home), [], 'the 37 was met');
    const calls = callsSince(0).filter((c) => c.args[0] === 'bootstrap');
    const busy = calls.findIndex((c) => c.injected && c.code === 37);
    assert.ok(busy >= 0, show(calls));
    assert.equal(calls[busy + 1].args, calls[busy].args, 'the same bootstrap again');
    assert.is(calls[busy + 1].code, 0, show(calls));
    assert.match((await f.get('/')).body, 'site says: hello from a launchd with faults');
    for (const kind of KINDS) assert.is(readRunState(f.home, LABEL[kind])?.state, 'running', kind);
  }),
);

faults(
  'a canonical repo in ~/Documents is allowed: install gets past the paths to its next check',
  withTimeout(60_000, async () => {
    const f = need();
    const repo = join(f.home, 'Documents', 'site2');
    await sh(f.root, 'git', ['clone', '-q', f.forge, repo]);
    // The port of the installed site: verifyPort, which comes after verifyPaths, refuses it.
    const r = await f.cli(
      ['install', '--repo', repo, '--name', 'other', '--port', String(f.port), '--service', 'launchd'],
      env,
    );
    assert.is(r.code, 2, failed(r));
    assert.match(r.stderr, /Port \d+ is already used by the installed site "site"/);
    assert.not.match(r.stderr, /Documents/);
    assert.not.ok(existsSync(join(f.opsHome, 'other')));
  }),
);

faults(
  'a bootstrap that fails with 5 is cured by a bootout, waited for, and one retry',
  withTimeout(120_000, async () => {
    const f = need();
    const original = readFileSync(agentPath('sync'), 'utf8');
    // A hand edit, so re-install reloads the sync agent.
    writeFileSync(agentPath('sync'), original.replace('<string>Background</string>', '<string>Standard</string>'));
    setFaults(f.home, [{ command: 'bootstrap', code: 5, times: 1 }]);
    const mark = readCalls(f.home).length;
    const r = await f.cli(f.installArgs({ service: 'launchd' }), env);
    assert.is(r.code, 0, failed(r));
    const calls = callsSince(mark);
    const target = `gui/${UID}/${LABEL.sync}`;
    const bootstrap = `bootstrap gui/${UID} ${agentPath('sync')}`;
    const changing = calls.filter((c) => c.args[0] !== 'print');
    assert.equal(
      changing.map((c) => `${c.args.join(' ')} → ${c.code}`),
      [
        `bootout ${target} → 0`,
        `enable ${target} → 0`,
        `${bootstrap} → 5`,
        `bootout ${target} → 113`,
        `${bootstrap} → 0`,
      ],
      show(calls),
    );
    // Between the bootout and the retry, print was asked until it no longer found the label.
    const retry = calls.lastIndexOf(changing[4]);
    const secondBootout = calls.indexOf(changing[3]);
    const between = calls.slice(secondBootout + 1, retry);
    assert.ok(
      between.some((c) => c.args.join(' ') === `print ${target}` && c.code === 113),
      `waited for print to answer 113:\n${show(calls)}`,
    );
    assert.is(readFileSync(agentPath('sync'), 'utf8'), original);
    assert.is(readRunState(f.home, LABEL.sync)?.state, 'running');
  }),
);

faults(
  'a 5 that a retry does not cure is one sentence with its fix (exit 1); the next install loads the agent',
  withTimeout(120_000, async () => {
    const f = need();
    const original = readFileSync(agentPath('sync'), 'utf8');
    writeFileSync(agentPath('sync'), original.replace('<string>Background</string>', '<string>Standard</string>'));
    setFaults(f.home, [{ command: 'bootstrap', code: 5, times: 2 }]);
    const r = await f.cli(f.installArgs({ service: 'launchd' }), env);
    assert.is(r.code, 1, failed(r));
    assert.match(
      r.stderr,
      /launchd would not load ~\/Library\/LaunchAgents\/localhost-ops\.site\.sync\.plist into gui\/\d+ \(launchctl bootstrap 5, Input\/output error: "Bootstrap failed: 5: Input\/output error"\), even after booting out localhost-ops\.site\.sync and trying again: the plist, or a path it names, is bad\./,
      failed(r),
    );
    assert.match(
      r.stderr,
      /Check it with plutil -lint .* then run localhost-ops install --repo ~\/dev\/site --name site/,
    );
    assert.not.match(r.stderr, /\n\s+at /, 'no stack trace');
    assert.equal(readFaults(f.home), []);
    const again = await f.cli(f.installArgs({ service: 'launchd' }), env);
    assert.is(again.code, 0, failed(again));
    await waitFor(() => readRunState(f.home, LABEL.sync)?.state === 'running', 20_000, 'the sync agent to run');
  }),
);

faults(
  'a restart whose kickstart finds no service (113) bootstraps instead; the server holds the new port',
  withTimeout(120_000, async () => {
    const f = need();
    const port = await getFreePort();
    setFaults(f.home, [{ command: 'kickstart', code: 113, times: 1 }]);
    const mark = readCalls(f.home).length;
    const r = await f.cli(f.installArgs({ service: 'launchd', port: String(port) }), env);
    assert.is(r.code, 0, failed(r));
    const changing = callsSince(mark).filter((c) => c.args[0] !== 'print');
    const target = `gui/${UID}/${LABEL.server}`;
    assert.equal(
      changing.map((c) => `${c.args.join(' ')} → ${c.code}`),
      [`kickstart -k ${target} → 113`, `enable ${target} → 0`, `bootstrap gui/${UID} ${agentPath('server')} → 0`],
      show(callsSince(mark)),
    );
    f.port = port;
    assert.match((await f.get('/')).body, 'site says: hello from a launchd with faults');
  }),
);

faults(
  'with gui/<uid> refused (125: SSH, headless) both agents load in user/<uid>; install and doctor say so',
  withTimeout(180_000, async () => {
    const f = need();
    assert.is((await f.cli(['uninstall'], env)).code, 0);
    setFaults(f.home, [{ domain: 'gui', code: 125 }]);
    const mark = readCalls(f.home).length;
    const r = await f.cli(f.installArgs({ service: 'launchd' }), env);
    assert.is(r.code, 0, failed(r));
    const changing = changingCalls(callsSince(mark));
    for (const kind of KINDS) {
      assert.ok(changing.includes(`bootstrap user/${UID} ${agentPath(kind)}`), `${kind}:\n${changing.join('\n')}`);
      const printed = await launchctl(f.home, ['print', `user/${UID}/${LABEL[kind]}`]);
      assert.is(printed.code, 0, `${kind} is loaded in user/<uid>`);
    }
    // install's output: the doctor verdict it prints warns, naming the domain and why.
    assert.match(
      r.stdout,
      new RegExp(`the jobs run in user/${UID}, not gui/${UID}: no one is logged in at this Mac's screen`),
    );
    assert.match((await f.get('/')).body, 'site says: hello from a launchd with faults');
    await f.waitForSyncs(2);
    const { doc } = await doctorJson(f, [], env);
    const service = check(doc, 'service');
    assert.is(service.status, 'warn', JSON.stringify(service));
    assert.match(service.summary, new RegExp(`user/${UID}`));
    assert.match(
      service.fix ?? '',
      /log in at the screen and run localhost-ops install .*: it moves them into gui\/\d+/,
    );
    assert.is(doc.verdict, 'warnings', JSON.stringify(doc.checks.filter((c) => c.status !== 'ok')));
  }),
);

faults(
  'once a GUI session exists, doctor says so and install moves both agents into gui/<uid>',
  withTimeout(180_000, async () => {
    const f = need();
    setFaults(f.home, []);
    const before = await doctorJson(f, [], env);
    assert.match(
      check(before.doc, 'service').summary,
      /loaded in user\/\d+, not gui\/\d+, though a GUI session exists now/,
    );
    const mark = readCalls(f.home).length;
    const r = await f.cli(f.installArgs({ service: 'launchd' }), env);
    assert.is(r.code, 0, failed(r));
    const changing = changingCalls(callsSince(mark));
    for (const kind of KINDS) {
      assert.ok(changing.includes(`bootout user/${UID}/${LABEL[kind]}`), changing.join('\n'));
      assert.ok(changing.includes(`bootstrap gui/${UID} ${agentPath(kind)}`), changing.join('\n'));
    }
    const after = await doctorJson(f, [], env);
    assert.is(check(after.doc, 'service').status, 'ok', JSON.stringify(check(after.doc, 'service')));
  }),
);

faults(
  "a job log that holds macOS's EPERM line for the canonical repo: doctor's paths check names Full Disk Access for the jobs' Node",
  withTimeout(60_000, async () => {
    const f = need();
    const log = join(f.siteDir(), 'logs', 'launchd-sync.log');
    // What git prints in a LaunchAgent that privacy protection keeps out of the repo.
    appendFileSync(log, `fatal: cannot change to '${f.canonical}': Operation not permitted\n`);
    const { doc, code } = await doctorJson(f, [], env);
    assert.is(code, 1);
    const paths = check(doc, 'paths');
    assert.is(paths.status, 'fail', JSON.stringify(paths));
    assert.match(
      paths.summary,
      /the jobs were refused access to the canonical repo ~\/dev\/site \("Operation not permitted" in launchd-sync\.log\)/,
    );
    assert.match(paths.summary, /does not extend your terminal's access to .*node, the Node the jobs run/);
    assert.ok((paths.fix ?? '').includes(`Give ${process.execPath}`), paths.fix ?? '');
    assert.match(paths.fix ?? '', /Full Disk Access: System Settings → Privacy & Security → Full Disk Access/);
    assert.match(paths.detail ?? '', /Operation not permitted/);
    assert.match(
      doc.next ?? '',
      /^open "x-apple\.systempreferences:com\.apple\.preference\.security\?Privacy_AllFiles"$/,
    );
    // Once the log no longer holds it, the check is quiet again.
    writeFileSync(log, '');
    assert.is(check((await doctorJson(f, [], env)).doc, 'paths').status, 'ok');
  }),
);

faults(
  'uninstall boots both agents out',
  withTimeout(120_000, async () => {
    const f = need();
    const r = await f.cli(['uninstall'], env);
    assert.is(r.code, 0, failed(r));
    for (const kind of KINDS) {
      assert.not.ok(existsSync(agentPath(kind)));
      for (const domain of [`gui/${UID}`, `user/${UID}`]) {
        assert.is((await launchctl(f.home, ['print', `${domain}/${LABEL[kind]}`])).code, 113);
      }
    }
  }),
);

faults.run();
