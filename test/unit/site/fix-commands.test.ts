/** The fix sentences' commands: install reproduces a config, a Node install names the major. */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { installCommand } from '../../../src/site/fix-commands.js';
import { getNodeInstallCommand } from '../../../src/runtime/choose.js';

const units = suite('fix commands');

units('fix commands: install reproduces the config; a Node install names the major', () => {
  const config = {
    schemaVersion: 1,
    name: 'site',
    repo: `${process.env.HOME}/my site`,
    remote: 'origin',
    branch: 'main',
    host: '127.0.0.1',
    port: 4400,
    interval: 60,
    command: 'astro dev --port {port}',
    node: null,
    service: 'process',
    healthPath: '/',
    healthTimeout: 60,
    restart: 'always',
    allowRemote: false,
  } as const;
  assert.is(
    installCommand(config),
    `localhost-ops install --repo ~/'my site' --name site --port 4400 --command 'astro dev --port {port}'`,
  );
  assert.is(getNodeInstallCommand('>=22.12', 'darwin'), 'brew install node@22');
  assert.is(getNodeInstallCommand('^20.19 || >=22', 'linux'), 'nvm install 20');
  assert.is(getNodeInstallCommand(undefined), undefined);
});

units.run();
