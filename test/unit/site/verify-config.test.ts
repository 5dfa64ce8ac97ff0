/**
 * config.json read back from disk (DESIGN §3): install's own rules on every load. A hand
 * edit install would refuse is refused with the file, the rule and the fix; what install
 * writes passes unchanged.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseInstallFlags, verifyConfig } from '../../../src/site/config.js';
import { ConfigError, UserError } from '../../../src/errors.js';

const FILE = '/home/u/ops-local/site/config.json';

const good = {
  ...parseInstallFlags({ repo: '/home/u/dev/site', name: 'site', port: '4400', service: 'process' }, 'linux'),
  jobs: {
    node: '/usr/bin/node',
    entry: '/opt/localhost-ops/bin/localhost-ops.js',
    pinnedBinDir: '/usr/bin',
    pathDirs: ['/usr/bin'],
    env: { HOME: '/home/u' },
  },
  paused: false,
};

test('what install writes passes, as it was read', () => {
  assert.equal(verifyConfig(JSON.parse(JSON.stringify(good)), 'site', FILE), good);
});

test("the first release's default command is read back as auto", () => {
  const legacy = { ...good, command: 'npm run dev -- --host {host} --port {port}' };
  assert.is(verifyConfig(legacy, 'site', FILE).command, 'auto');
});

const refused: [string, Record<string, unknown>, RegExp][] = [
  [
    'a remote that is a git option',
    { remote: '--upload-pack=touch PWNED;git-upload-pack' },
    /--remote "--upload-pack=touch PWNED;git-upload-pack" starts with "-", so git would take it for an option/,
  ],
  ['a branch that is a git option', { branch: '-D' }, /--branch "-D" starts with "-"/],
  ['port 0', { port: 0 }, /--port must be a whole number from 1 to 65535, not "0"/],
  ['port 1000000', { port: 1_000_000 }, /--port must be a whole number from 1 to 65535, not "1000000"/],
  ['a fractional port', { port: 4321.5 }, /--port must be a whole number/],
  ['healthTimeout 0', { healthTimeout: 0 }, /--health-timeout must be a whole number from 1 to 3600 seconds, not "0"/],
  ['interval 1', { interval: 1 }, /--interval must be a whole number from 10 to 86400 seconds/],
  ['a host name', { host: 'localhost' }, /--host must be an IP address/],
  ['a remote host without allowRemote', { host: '0.0.0.0' }, /not a loopback address/],
  ['a health path without its slash', { healthPath: 'health' }, /--health-path must start with "\/"/],
  ['a command without {port}', { command: 'npm run dev' }, /--command must contain \{port\}/],
  ['a restart policy install refuses', { restart: 'never' }, /--restart never is not supported/],
];
for (const [what, change, message] of refused) {
  test(`refused: ${what}`, () => {
    try {
      verifyConfig({ ...good, ...change }, 'site', FILE);
      assert.unreachable('it was accepted');
    } catch (err) {
      assert.instance(err, ConfigError);
      assert.instance(err, UserError, 'exit 2');
      assert.is((err as ConfigError).exitCode, 2);
      assert.is((err as ConfigError).file, FILE);
      assert.match((err as Error).message, /^\/home\/u\/ops-local\/site\/config\.json holds a value install refuses: /);
      assert.match((err as Error).message, message);
      assert.match(
        (err as ConfigError).fix,
        /^Fix or delete .*config\.json, then run localhost-ops install --repo DIR --name site again\.$/,
      );
    }
  });
}

const wrongType: [string, Record<string, unknown>][] = [
  ['a port as text', { port: '4400' }],
  ['a missing remote', { remote: undefined }],
  ['another site name', { name: 'other' }],
  ['a relative repo', { repo: 'dev/site' }],
  ['a relative node', { node: 'bin/node' }],
  ['service auto', { service: 'auto' }],
  ['an unknown service', { service: 'cron' }],
  ['paused as text', { paused: 'yes' }],
  ['jobs without their env', { jobs: { ...good.jobs, env: undefined } }],
  ['a jobs PATH with a number', { jobs: { ...good.jobs, pathDirs: [1] } }],
  ['uninstalled false', { uninstalled: false }],
];
for (const [what, change] of wrongType) {
  test(`wrong type: ${what}`, () => {
    assert.throws(
      () => verifyConfig({ ...good, ...change }, 'site', FILE),
      (err: unknown) =>
        err instanceof ConfigError &&
        /config\.json is missing fields or has values of the wrong type\.$/.test(err.message),
    );
  });
}

test('not an object at all', () => {
  for (const data of [null, [], 'text', 42]) {
    assert.throws(
      () => verifyConfig(data, 'site', FILE),
      (err: unknown) => err instanceof ConfigError,
    );
  }
});

test.run();
