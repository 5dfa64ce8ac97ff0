/** Which Node runs a site, from the files of the installs it finds (nothing is spawned here). */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { realpathSync } from 'node:fs';
import { OpsError, UserError } from '../../../src/errors.js';
import {
  findNodeInstalls,
  getEngines,
  getSelfNode,
  hasEngines,
  pickNode,
  readNodeInstall,
  resolveNode,
  type Engines,
} from '../../../src/runtime/choose.js';
import { makeFakeNodes } from '../../helpers/fake-nodes.js';

const { at, search, nvm22, volta21, mystery, custom, pkgNode, majorOnly, remove } = makeFakeNodes();
test.after(remove);

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
