/**
 * install run again (DESIGN §1): flags left out keep their installed values, given ones
 * change, and the summary names exactly what changed. (The pure parts, in site/config.ts.)
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  carryInstalledState,
  describeConfigChanges,
  isServerAffected,
  mergeInstallFlags,
  parseInstallFlags,
  type SiteConfig,
} from '../../../src/site/config.js';

const installed = parseInstallFlags(
  {
    repo: '/home/u/dev/site',
    name: 'site',
    port: '4400',
    command: 'node server.js --host {host} --port {port}',
    node: '/opt/node20/bin/node',
    interval: '120',
    healthPath: '/health',
    notify: false,
    metricsDir: '/var/lib/textfile',
    service: 'process',
  },
  'linux',
);

test('a re-install with only --repo keeps every flag', () => {
  const again = parseInstallFlags(mergeInstallFlags({ repo: '/home/u/dev/site' }, installed), 'linux');
  assert.equal(again, installed);
  assert.equal(describeConfigChanges(installed, again), []);
  assert.not.ok(isServerAffected(installed, again));
});

test('a re-install with --name alone finds the repo too', () => {
  const again = parseInstallFlags(mergeInstallFlags({ name: 'site' }, installed), 'linux');
  assert.equal(again, installed);
});

test('given flags change, and only they; the summary names them', () => {
  const again = parseInstallFlags(
    mergeInstallFlags({ repo: '/home/u/dev/site', port: '4500', notify: true, node: 'auto' }, installed),
    'linux',
  );
  assert.is(again.port, 4500);
  assert.is(again.node, null);
  assert.is(again.notify, undefined, 'notify on is the default, not written');
  assert.is(again.command, installed.command);
  assert.is(again.metricsDir, '/var/lib/textfile');
  assert.equal(describeConfigChanges(installed, again), [
    '--port 4400 → 4500',
    '--node /opt/node20/bin/node → auto',
    '--notify off → on',
  ]);
  assert.ok(isServerAffected(installed, again));
  const off = parseInstallFlags(mergeInstallFlags({ name: 'site', metricsDir: 'none' }, installed), 'linux');
  assert.is(off.metricsDir, undefined);
  assert.equal(describeConfigChanges(installed, off), ['--metrics-dir /var/lib/textfile → none']);
});

test('a first install is the flags alone; a pause is carried over, an uninstall is not', () => {
  const fresh = mergeInstallFlags({ repo: '/x' }, null);
  assert.equal(fresh, { repo: '/x' });
  const paused: SiteConfig = { ...installed, paused: true, uninstalled: true };
  const again = carryInstalledState(parseInstallFlags(mergeInstallFlags({ name: 'site' }, paused), 'linux'), paused);
  assert.is(again.paused, true);
  assert.is(again.uninstalled, undefined);
  assert.is(carryInstalledState(installed, installed).paused, undefined);
});

test.run();
