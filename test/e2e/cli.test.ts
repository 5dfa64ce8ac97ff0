/** Bad input: exit 2, one sentence that names the fix, no stack trace, nothing created. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdirSync, writeFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { createFixture, withTimeout, type Fixture, type CliResult } from '../helpers/fixture.js';
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

test(
  'install refuses bad input with exit 2 and leaves nothing behind',
  withTimeout(T, async () => {
    const fx = await createFixture();
    try {
      const notGit = join(fx.root, 'not-git');
      mkdirSync(notGit);
      const cases: [string[], RegExp, string][] = [
        [['install', '--repo', fx.canonical, '--port', 'abc'], /--port must be a whole number/, '--port abc'],
        [
          ['install', '--repo', fx.canonical, '--port', '70000'],
          /--port must be a whole number from 1 to 65535/,
          '--port 70000',
        ],
        [['install', '--repo', join(fx.root, 'missing')], /no folder at/, 'missing repo'],
        [['install', '--repo', notGit], /is not a git repository/, 'not a git repo'],
        [['install', '--repo', fx.canonical, '--remote', 'nope'], /has no remote named "nope"/, 'no such remote'],
        [['install', '--repo', fx.canonical, '--branch', 'nope'], /has no branch "nope"/, 'no such branch'],
        [['install', '--repo', fx.canonical, '--name', '../x'], /"\.\.\/x" is not a valid site name/, '--name ../x'],
        [['install', '--repo', fx.canonical, '--host', '0.0.0.0'], /not a loopback address/, 'non-loopback host'],
        [['install', '--repo', fx.canonical, '--host', 'localhost'], /must be an IP address/, 'host name'],
        [
          ['install', '--repo', fx.canonical, '--interval', '5'],
          /--interval must be a whole number from 10/,
          '--interval 5',
        ],
        [
          ['install', '--repo', fx.canonical, '--health-path', 'health'],
          /--health-path must start with "\/"/,
          'health path',
        ],
        [['install', '--repo', fx.canonical, '--service', 'cron'], /--service must be one of/, 'unknown service'],
        [
          ['install', '--repo', fx.canonical, '--node', join(fx.root, 'no-node')],
          /--node .* is not an executable file/,
          'missing --node',
        ],
        [['install', '--repo', fx.canonical, '--bogus'], /Unknown argument/, 'unknown flag'],
        [['install'], /install needs the site repository/, 'no --repo'],
        [[], /Name a command/, 'no command'],
      ];
      for (const [args, pattern, what] of cases) {
        assertRefused(await fx.cli(args), pattern, what);
        assertNothingCreated(fx, what);
      }
    } finally {
      await fx.cleanup();
    }
  }),
);

test(
  'install refuses a site folder that would hold the repository (purge would delete it)',
  withTimeout(T, async () => {
    const fx = await createFixture();
    try {
      // LOCALHOST_OPS_HOME is the folder the clone sits in, and the site is named after it.
      const r = await fx.cli(fx.installArgs(), { LOCALHOST_OPS_HOME: join(fx.home, 'dev') });
      assertRefused(r, /and the repository .* overlap/, 'overlapping site folder');
      assert.ok(existsSync(join(fx.canonical, '.git')), 'the clone is untouched');
      assert.equal(readdirSync(join(fx.home, 'dev')), ['site']);
    } finally {
      await fx.cleanup();
    }
  }),
);

test(
  'install on a main no installed Node can run fails before writing anything',
  withTimeout(T, async () => {
    const fx = await createFixture();
    try {
      await fx.push({ 'package.json': packageJson({ engines: { node: '>=99' } }) });
      const r = await fx.cli(fx.installArgs());
      assert.is(r.code, 1, r.stderr);
      assert.is(r.stderr.trim().split('\n').length, 1);
      assert.match(r.stderr, /No installed Node satisfies node ">=99"/);
      assert.match(r.stderr, /nvm install 99/);
      assertNothingCreated(fx, 'no Node for main');
    } finally {
      await fx.cleanup();
    }
  }),
);

test(
  'install refuses a port held by another program, naming it',
  withTimeout(T, async () => {
    const fx = await createFixture();
    try {
      const { pid } = await fx.startStrayServer();
      const r = await fx.cli(fx.installArgs());
      assertRefused(r, new RegExp(`Port ${fx.port} is held by another program: pid ${pid}`), 'port held');
      assertNothingCreated(fx, 'port held');
    } finally {
      await fx.cleanup();
    }
  }),
);

test(
  'sync, run, doctor and uninstall refuse an unknown --name',
  withTimeout(T, async () => {
    const fx = await createFixture();
    try {
      for (const command of ['sync', 'run', 'doctor', 'uninstall']) {
        const r = await fx.cli([command, '--name', 'nope']);
        assertRefused(r, /No site named "nope" is installed/, `${command} --name nope`);
        assertRefused(await fx.cli([command]), /No site is installed yet/, `${command} with no site`);
        assertRefused(await fx.cli([command, '--name', '../x']), /not a valid site name/, `${command} --name ../x`);
      }
      assertNothingCreated(fx, 'unknown names');
    } finally {
      await fx.cleanup();
    }
  }),
);

test(
  'a corrupt config.json is refused, naming the file',
  withTimeout(T, async () => {
    const fx = await createFixture();
    try {
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
    } finally {
      await fx.cleanup();
    }
  }),
);

test(
  '--help shows examples; --version prints the version',
  withTimeout(T, async () => {
    const fx = await createFixture();
    try {
      const help = await fx.cli(['--help']);
      assert.is(help.code, 0);
      assert.match(help.stdout, /Examples:/);
      assert.match(help.stdout, /localhost-ops install --repo ~\/dev\/site/);
      const sub = await fx.cli(['install', '--help']);
      assert.match(sub.stdout, /--health-timeout/);
      const version = await fx.cli(['--version']);
      assert.is(version.code, 0);
      assert.match(version.stdout.trim(), /^\d+\.\d+\.\d+$/);
    } finally {
      await fx.cleanup();
    }
  }),
);

test.run();
