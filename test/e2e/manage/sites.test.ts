/**
 * The everyday commands on two sites at once (DESIGN §1, §11): status (text and JSON),
 * logs, open, uninstall of one, and install that remembers its flags.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { chmodSync, mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { e2e } from '../../helpers/e2e.js';
import { sh, type Fixture } from '../../helpers/fixture.js';
import { getFreePort } from '../../helpers/proc.js';

const sites = suite('manage: two sites');
const T = 240_000;

interface StatusDoc {
  schemaVersion: number;
  sites: {
    name: string;
    url: string;
    servedSha: string | null;
    subject: string | null;
    servedSince: string | null;
    status: string | null;
    lastSyncAt: string | null;
    jobs: { sync: boolean; server: boolean };
    paused: boolean;
  }[];
}

/** Installs "site" on the fixture's port and "other" (same clone) on another free port. */
async function twoSites(fx: Fixture, extra: Record<string, string | true> = {}): Promise<number> {
  const r1 = await fx.cli(fx.installArgs({ name: 'site', ...extra }));
  assert.is(r1.code, 0, `install site: ${r1.stdout}${r1.stderr}`);
  const port = await getFreePort();
  const r2 = await fx.cli(fx.installArgs({ name: 'other', port: String(port), ...extra }));
  assert.is(r2.code, 0, `install other: ${r2.stdout}${r2.stderr}`);
  return port;
}

async function status(fx: Fixture): Promise<StatusDoc> {
  const r = await fx.cli(['status', '--json']);
  assert.is(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as StatusDoc;
}

e2e(
  sites,
  'doctor without --name checks every site: one report each in text, one document holding both in JSON',
  async (fx) => {
    const otherPort = await twoSites(fx);
    const text = await fx.cli(['doctor', '--no-network']);
    assert.is(text.code, 0, text.stdout);
    assert.match(text.stdout, /^localhost-ops doctor: site "other" · http:\/\/127\.0\.0\.1:\d+\//m);
    assert.match(text.stdout, /^localhost-ops doctor: site "site" · /m);
    assert.is((text.stdout.match(/^Verdict: ok/gm) ?? []).length, 2);
    const json = await fx.cli(['doctor', '--no-network', '--json']);
    const doc = JSON.parse(json.stdout) as {
      schemaVersion: number;
      sites: { site: string; url: string; verdict: string }[];
    };
    assert.is(doc.schemaVersion, 1);
    assert.equal(
      doc.sites.map((d) => [d.site, d.url, d.verdict]),
      [
        ['other', `http://127.0.0.1:${otherPort}/`, 'ok'],
        ['site', `http://127.0.0.1:${fx.port}/`, 'ok'],
      ],
    );
    // An uninstalled site drops out: the one left is reported alone, as its own document.
    await fx.cli(['uninstall', '--name', 'other']);
    const one = await fx.cli(['doctor', '--no-network', '--json']);
    assert.is(JSON.parse(one.stdout).site, 'site', 'an uninstalled site is not checked');
  },
  { timeoutMs: T },
);

e2e(
  sites,
  'status lists both sites, in text and as JSON; logs prints the last lines of each',
  async (fx) => {
    const otherPort = await twoSites(fx);
    const head = await sh(fx.canonical, 'git', ['rev-parse', 'origin/main']);
    const doc = await status(fx);
    assert.is(doc.schemaVersion, 1);
    assert.equal(
      doc.sites.map((s) => s.name),
      ['other', 'site'],
    );
    for (const s of doc.sites) {
      assert.equal(Object.keys(s).sort(), [
        'jobs',
        'lastSyncAt',
        'name',
        'paused',
        'servedSha',
        'servedSince',
        'status',
        'subject',
        'url',
      ]);
      assert.is(s.servedSha, head);
      assert.is(s.subject, 'initial site');
      assert.ok(s.status === 'updated' || s.status === 'noop', String(s.status));
      assert.ok(s.lastSyncAt && !Number.isNaN(Date.parse(s.lastSyncAt)), String(s.lastSyncAt));
      assert.ok(s.servedSince && !Number.isNaN(Date.parse(s.servedSince)), String(s.servedSince));
      assert.equal(s.jobs, { sync: true, server: true });
      assert.is(s.paused, false);
    }
    assert.is(doc.sites[0].url, `http://127.0.0.1:${otherPort}/`);
    assert.is(doc.sites[1].url, `http://127.0.0.1:${fx.port}/`);

    const text = await fx.cli(['status']);
    assert.is(text.code, 0, text.stderr);
    const lines = text.stdout.trim().split('\n');
    assert.is(lines.length, 2, text.stdout);
    assert.match(
      lines[1],
      new RegExp(`^site .*http://127\\.0\\.0\\.1:${fx.port}/.*${head.slice(0, 7)} "initial site"`),
    );
    assert.match(lines[1], /last sync (updated|noop) \d+ s ago/);
    assert.match(lines[1], /jobs running/);

    // logs: -n counts lines; both logs are labelled; colour codes are gone.
    writeFileSync(
      join(fx.siteDir('other'), 'logs', 'server.log'),
      '2000-01-01 00:00:00 [a 1234567] \u001b[32mready\u001b[39m in 12 ms\n',
      { flag: 'a' },
    );
    const three = await fx.cli(['logs', '--name', 'other', '-n', '3']);
    assert.is(three.code, 0, three.stderr);
    const got = three.stdout.trimEnd().split('\n');
    assert.is(got.length, 3, three.stdout);
    for (const line of got) assert.match(line, /^(sync {2}|server) \d{4}-\d\d-\d\d \d\d:\d\d:\d\d /, line);
    const all = await fx.cli(['logs', '--name', 'other', '--server', '-n', '1000']);
    assert.not.match(all.stdout, /\u001b/);
    assert.match(all.stdout, /\[a 1234567\] ready in 12 ms/);
    assert.match(all.stdout, /^\d{4}-/m, 'one log: no label');
    const sync = await fx.cli(['logs', '--name', 'site', '--sync', '-n', '5']);
    assert.is(sync.stdout.trimEnd().split('\n').length, 5);
    assert.match(sync.stdout, /done: /);
    // Without --name and with two sites: exit 2 naming both.
    const which = await fx.cli(['logs']);
    assert.is(which.code, 2);
    assert.match(which.stderr, /other, site/);
  },
  { timeoutMs: T },
);

e2e(
  sites,
  'uninstall of one site leaves the other serving and drops it from status and name resolution',
  async (fx) => {
    const otherPort = await twoSites(fx);
    const u = await fx.cli(['uninstall', '--name', 'other']);
    assert.is(u.code, 0, u.stderr);
    const doc = await status(fx);
    assert.equal(
      doc.sites.map((s) => s.name),
      ['site'],
    );
    assert.equal(doc.sites[0].jobs, { sync: true, server: true });
    assert.is((await fx.get()).status, 200);
    // One installed site left: commands may leave --name out again.
    const logs = await fx.cli(['logs', '-n', '1']);
    assert.is(logs.code, 0, logs.stderr);
    const restarted = await fx.cli(fx.installArgs({ name: 'other', port: String(otherPort) }));
    assert.is(restarted.code, 0, restarted.stderr);
    assert.match(restarted.stdout, /changed {2}jobs reinstalled after uninstall/);
  },
  { timeoutMs: T },
);

e2e(
  sites,
  'install run again with fewer flags keeps the others; the summary says what changed',
  async (fx) => {
    const command = 'node server.js --host {host} --port {port}';
    const r1 = await fx.cli(fx.installArgs({ name: 'site', command, 'health-path': '/health', interval: '120' }));
    assert.is(r1.code, 0, r1.stdout + r1.stderr);
    const pid = fx.serverPid();
    const config = () => JSON.parse(readFileSync(join(fx.siteDir(), 'config.json'), 'utf8')) as Record<string, unknown>;
    // The README's advice after a reboot: only --repo.
    const again = await fx.cli(['install', '--repo', fx.canonical]);
    assert.is(again.code, 0, again.stdout + again.stderr);
    assert.match(again.stdout, /changed {2}nothing/);
    assert.match(again.stdout, /config\.json \(unchanged\)/);
    assert.is(fx.serverPid(), pid, 'nothing restarted');
    assert.is(config().command, command);
    assert.is(config().healthPath, '/health');
    assert.is(config().interval, 120);
    assert.is(config().port, fx.port);
    // One flag changed: only it changes, and the summary names it.
    const changed = await fx.cli(['install', '--name', 'site', '--interval', '300', '--no-notify']);
    assert.is(changed.code, 0, changed.stdout + changed.stderr);
    assert.match(changed.stdout, /changed {2}--interval 120 → 300, --notify on → off/);
    assert.is(config().interval, 300);
    assert.is(config().notify, false);
    assert.is(config().command, command);
    assert.is(fx.serverPid(), pid, 'an interval restarts no server');
  },
  { timeoutMs: T },
);

e2e(
  sites,
  'open runs xdg-open with the URL as one argument, and says so when there is none',
  async (fx) => {
    assert.is((await fx.cli(fx.installArgs({ name: 'site' }))).code, 0);
    const bin = join(fx.root, 'bin');
    mkdirSync(bin);
    const record = join(fx.root, 'opened.txt');
    writeFileSync(join(bin, 'xdg-open'), `#!/bin/sh\nfor a in "$@"; do printf '%s\\n' "$a" >> '${record}'; done\n`);
    chmodSync(join(bin, 'xdg-open'), 0o755);
    const r = await fx.cli(['open'], { PATH: `${bin}:/usr/bin:/bin` });
    assert.is(r.code, 0, r.stderr);
    assert.is(readFileSync(record, 'utf8'), `http://127.0.0.1:${fx.port}/\n`);
    const none = await fx.cli(['open'], { PATH: join(fx.root, 'empty') });
    assert.is(none.code, 1, none.stderr);
    assert.match(none.stderr, /Neither open nor xdg-open is on PATH/);
    assert.match(none.stderr, new RegExp(`Open http://127\\.0\\.0\\.1:${fx.port}/`));
    assert.not.ok(existsSync(join(fx.root, 'empty')));
  },
  { timeoutMs: T },
);

sites.run();
