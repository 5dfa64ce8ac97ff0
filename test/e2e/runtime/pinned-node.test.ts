/** The Node a commit runs under is remembered, and forgotten when that Node changes. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync, writeFileSync, chmodSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getNodeFor, getNodeKey } from '../../../src/runtime/pinned-node.js';
import { getFileId } from '../../../src/os/fs.js';
import type { SiteConfig } from '../../../src/site/config.js';
import type { DepsStamp } from '../../../src/runtime/deps.js';

const config = { node: null } as SiteConfig;
const PKG = JSON.stringify({ engines: { node: '>=1' } });

test('a stamp for the same engines and the same binary answers without a search', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'lops-pin-'));
  try {
    const bin = join(dir, 'node');
    writeFileSync(bin, '#!/bin/sh\necho v99.0.0\n');
    chmodSync(bin, 0o755);
    const stamp: DepsStamp = {
      lockHash: 'x',
      nodeBin: bin,
      nodeId: getFileId(bin),
      nodeVersion: '99.0.0',
      npmVersion: null,
      nodeKey: getNodeKey(config, PKG),
    };
    const hit = await getNodeFor(config, PKG, stamp);
    assert.is(hit.node.bin, bin, 'the remembered Node');
    assert.is(hit.node.source, 'stamp');

    // Upgraded in place (same path, new file): search again rather than trust the stamp.
    const later = new Date(Date.now() + 60_000);
    utimesSync(bin, later, later);
    const miss = await getNodeFor(config, PKG, stamp);
    assert.is.not(miss.node.source, 'stamp');

    // Other engines: search again.
    const other = await getNodeFor(config, JSON.stringify({ engines: { node: '>=2' } }), {
      ...stamp,
      nodeId: getFileId(bin),
    });
    assert.is.not(other.node.source, 'stamp');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
