/** Bad input: exit 2, one sentence that names the fix, no stack trace, nothing created. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdirSync, writeFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Fixture, CliResult } from '../helpers/fixture.js';
import { e2e } from '../helpers/e2e.js';
import { packageJson } from '../helpers/site.js';

const T = 120_000;

function assertRefused(r: CliResult, pattern: RegExp, what: string): void {
  assert.is(r.code, 2, `${what}: exit code (stderr: ${r.stderr})`);
  assert.is(r.stdout, '', `${what}: nothing on stdout`);
  const lines = r.stderr.trim().split('\n');
  assert.is(lines.length, 1, `${what}: one line on stderr, got ${JSON.stringify(r.stderr)}`);
  assert.not.match(r.stderr, /\n\s+at /, `${what}: no stack trace`);
  assert.match(r.stderr, pattern, `${what}: names the problem`);
  assert.match(r.stderr, /(Pass|Run|Use|Stop|Install|Fix|Set) /, `${what}: names the fix`);
}

function assertNothingCreated(fx: Fixture, what: string): void {
  const entries = existsSync(fx.opsHome) ? readdirSync(fx.opsHome) : [];
  assert.equal(entries, [], `${what}: nothing was created under the tool home`);
}

e2e(
  test,
  'install refuses bad input with exit 2 and leaves nothing behind',
  async (fx) => {
    const notGit = join(fx.root, 'not-git');
    mkdirSync(notGit);
    // The fixture's free port on every case that is not about --port: the default (4321)
    // may be held on this machine, and a held port would be refused first.
    const port = ['--port', String(fx.port)];
    const cases: [string[], RegExp, string][] = [
      [['install', '--repo', fx.canonical, '--port', 'abc'], /--port must be a whole number/, '--port abc'],
      [
        ['install', '--repo', fx.canonical, '--port', '70000'],
        /--port must be a whole number from 1 to 65535/,
        '--port 70000',
      ],
      [['install', '--repo', join(fx.root, 'missing'), ...port], /no folder at/, 'missing repo'],
      [['install', '--repo', notGit, ...port], /is not a git repository/, 'not a git repo'],
      [
        ['install', '--repo', fx.canonical, ...port, '--remote', 'nope'],
        /has no remote named "nope"/,
        'no such remote',
      ],
      [['install', '--repo', fx.canonical, ...port, '--branch', 'nope'], /has no branch "nope"/, 'no such branch'],
      [
        ['install', '--repo', fx.canonical, ...port, '--name', '../x'],
        /"\.\.\/x" is not a valid site name/,
        '--name ../x',
      ],
      [
        ['install', '--repo', fx.canonical, ...port, '--host', '0.0.0.0'],
        /not a loopback address/,
        'non-loopback host',
      ],
      [['install', '--repo', fx.canonical, ...port, '--host', 'localhost'], /must be an IP address/, 'host name'],
      [
        ['install', '--repo', fx.canonical, ...port, '--interval', '5'],
        /--interval must be a whole number from 10/,
        '--interval 5',
      ],
      [
        ['install', '--repo', fx.canonical, ...port, '--health-path', 'health'],
        /--health-path must start with "\/"/,
        'health path',
      ],
      [
        ['install', '--repo', fx.canonical, ...port, '--service', 'cron'],
        /--service must be one of/,
        'unknown service',
      ],
      [
        ['install', '--repo', fx.canonical, ...port, '--node', join(fx.root, 'no-node')],
        /--node .* is not an executable file/,
        'missing --node',
      ],
      [['install', '--repo', fx.canonical, ...port, '--bogus'], /Unknown argument/, 'unknown flag'],
      [['install', ...port], /install needs the site repository/, 'no --repo'],
      [[], /Name a command/, 'no command'],
    ];
    for (const [args, pattern, what] of cases) {
      assertRefused(await fx.cli(args), pattern, what);
      assertNothingCreated(fx, what);
    }
  },
  { timeoutMs: T },
);

e2e(
  test,
  'install refuses a site folder that would hold the repository (purge would delete it)',
  async (fx) => {
    // LOCALHOST_OPS_HOME is the folder the clone sits in, and the site is named after it.
    const r = await fx.cli(fx.installArgs(), { LOCALHOST_OPS_HOME: join(fx.home, 'dev') });
    assertRefused(r, /and the repository .* overlap/, 'overlapping site folder');
    assert.ok(existsSync(join(fx.canonical, '.git')), 'the clone is untouched');
    assert.equal(readdirSync(join(fx.home, 'dev')), ['site']);
  },
  { timeoutMs: T },
);

e2e(
  test,
  'install on a main no installed Node can run fails before writing anything',
  async (fx) => {
    await fx.push({ 'package.json': packageJson({ engines: { node: '>=99' } }) });
    const r = await fx.cli(fx.installArgs());
    assert.is(r.code, 1, r.stderr);
    assert.is(r.stderr.trim().split('\n').length, 1);
    assert.match(r.stderr, /No installed Node satisfies node ">=99"/);
    assert.match(r.stderr, /nvm install 99/);
    assertNothingCreated(fx, 'no Node for main');
  },
  { timeoutMs: T },
);

e2e(
  test,
  'install refuses a port held by another program, naming it',
  async (fx) => {
    const { pid } = await fx.startStrayServer();
    const r = await fx.cli(fx.installArgs());
    assertRefused(r, new RegExp(`Port ${fx.port} is held by another program: pid ${pid}`), 'port held');
    assertNothingCreated(fx, 'port held');
  },
  { timeoutMs: T },
);

e2e(
  test,
  'sync, run, doctor and uninstall refuse an unknown --name',
  async (fx) => {
    for (const command of ['sync', 'run', 'doctor', 'uninstall']) {
      const r = await fx.cli([command, '--name', 'nope']);
      assertRefused(r, /No site named "nope" is installed/, `${command} --name nope`);
      assertRefused(await fx.cli([command]), /No site is installed yet/, `${command} with no site`);
      assertRefused(await fx.cli([command, '--name', '../x']), /not a valid site name/, `${command} --name ../x`);
    }
    assertNothingCreated(fx, 'unknown names');
  },
  { timeoutMs: T },
);

e2e(
  test,
  'a corrupt config.json is refused, naming the file',
  async (fx) => {
    const dir = fx.siteDir('broken');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'config.json'), '{ "name": "broken", ');
    for (const command of ['sync', 'run', 'doctor', 'uninstall']) {
      const r = await fx.cli([command, '--name', 'broken']);
      assertRefused(r, /ops-local\/broken\/config\.json is not valid JSON/, `${command} on corrupt config`);
    }
    writeFileSync(join(dir, 'config.json'), '{ "name": "broken", "schemaVersion": 1 }');
    assertRefused(
      await fx.cli(['sync', '--name', 'broken']),
      /config\.json is missing fields/,
      'config without fields',
    );
    assert.equal(readdirSync(dir), ['config.json'], 'nothing else was created');
  },
  { timeoutMs: T },
);

e2e(
  test,
  '--help shows examples; --version prints the version',
  async (fx) => {
    const help = await fx.cli(['--help']);
    assert.is(help.code, 0);
    assert.match(help.stdout, /Examples:/);
    assert.match(help.stdout, /localhost-ops install --repo ~\/dev\/site/);
    const sub = await fx.cli(['install', '--help']);
    assert.match(sub.stdout, /--health-timeout/);
    const version = await fx.cli(['--version']);
    assert.is(version.code, 0);
    assert.match(version.stdout.trim(), /^\d+\.\d+\.\d+$/);
  },
  { timeoutMs: T },
);

test.run();
