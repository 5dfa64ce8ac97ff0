/** resolveNode runs a Node to ask its version when no file tells it (each fake node answers v18.0.0). */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { OpsError } from '../../../src/errors.js';
import { describeSearch, resolveNode } from '../../../src/runtime/choose.js';
import { makeFakeNodes } from '../../helpers/fake-nodes.js';

const { search, mystery, custom, remove } = makeFakeNodes();
test.after(remove);

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

test.run();
