/**
 * The layout's dependency rules (docs/DESIGN.md §7), checked on every import in src/,
 * test/unit/ and test/helpers/: no import cycle, command folders import one way, only os/ and service/ touch
 * processes and sockets, os/ is the floor. The rules are a table in test/helpers/architecture.ts;
 * the first suite proves that each of them fires on a small made-up tree.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  RULES,
  checkRules,
  describeViolation,
  findCycles,
  readGraph,
  readSources,
  type ImportRef,
} from '../helpers/architecture.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

// --------------------------------------------------------- the guard itself, on made-up trees

const guard = suite('architecture: each rule fires');

/** The ids of the rules that the one import in `from` breaks. */
function broken(from: string, text: string, others: string[] = []): string[] {
  const files: Record<string, string> = { [from]: text };
  for (const path of others) files[path] = 'export {};\n';
  return [...new Set(checkRules(readGraph(files)).map((v) => v.rule.id))].sort();
}

guard('imports are read: static, export-from, dynamic, require, type-only, and not from comments or strings', () => {
  const text = [
    "import { a } from './a.js';",
    "import type { B } from './b.js';",
    "import { type C, type D } from './c.js';",
    "import e, { type E } from './e.js';",
    "export { f } from './f.js';",
    "export type { G } from './g.js';",
    "export * from './h.js';",
    "import './side-effect.js';",
    "const i = await import('./i.js');",
    'const j = require("./j.js");',
    "type K = typeof import('./k.js');",
    'const name = "./l.js"; const l = await import(name);',
    "// import { m } from './m.js';",
    'const s = "import { n } from \'./n.js\'";',
  ].join('\n');
  const refs = readGraph({ 'src/x/index.ts': text, 'src/x/a.ts': '' });
  const seen = refs.map((r: ImportRef) => `${r.kind}${r.typeOnly ? ' type' : ''} ${r.target}`);
  assert.equal(seen, [
    'static src/x/a.ts',
    'static type src/x/b.ts',
    'static type src/x/c.ts',
    'static src/x/e.ts',
    'static src/x/f.ts',
    'static type src/x/g.ts',
    'static src/x/h.ts',
    'static src/x/side-effect.ts',
    'dynamic src/x/i.ts',
    'dynamic src/x/j.ts',
    'static type src/x/k.ts',
    'dynamic <computed>',
  ]);
  assert.is(refs[0].line, 1);
  assert.is(refs[8].line, 9);
});

guard('imports resolve: .js to .ts, a folder to its index.ts, bare names unchanged', () => {
  const refs = readGraph({
    'src/sync/execute.ts': "import '../service/index.js';\nimport '../service';\nimport 'node:fs';\n",
    'src/service/index.ts': '',
  });
  assert.equal(
    refs.map((r) => r.target),
    ['src/service/index.ts', 'src/service/index.ts', 'node:fs'],
  );
});

guard('a clean tree passes', () => {
  const files = {
    'src/cli.ts': "const i = await import('./install/index.js');\n",
    'src/install/index.ts':
      "import '../sync/execute.js';\nimport '../run/health.js';\nconst d = await import('../doctor/index.js');\n",
    'src/sync/execute.ts': "import '../run/health.js';\nimport '../site/paths.js';\nimport '../os/git.js';\n",
    'src/manage/uninstall.ts': "import '../sync/execute.js';\nimport '../run/health.js';\n",
    'src/doctor/index.ts': "import '../run/health.js';\nimport type { Site } from '../site/config.js';\n",
    'src/run/health.ts': "import '../os/http.js';\nimport type { IncomingMessage } from 'node:http';\n",
    'src/site/paths.ts': "import '../os/fs.js';\n",
    'src/site/config.ts': "import '../errors.js';\n",
    'src/service/index.ts': "import '../os/exec.js';\nconst b = await import('./process/index.js');\n",
    'src/service/process/index.ts': "import '../../os/exec.js';\nimport '../index.js';\n",
    'src/os/git.ts': "import 'simple-git';\nimport '../errors.js';\nimport './exec.js';\n",
    'src/os/exec.ts': "import 'node:child_process';\n",
    'src/os/http.ts': "import { request } from 'undici';\n",
    'src/os/http-server.ts': "import { createServer } from 'node:http';\n",
    'src/os/fs.ts': "import 'node:fs';\n",
    'src/errors.ts': '',
    'test/unit/sync/plan.test.ts': "import '../../../src/sync/execute.js';\nimport '../../helpers/site.js';\n",
  };
  const refs = readGraph(files);
  assert.equal(checkRules(refs).map(describeViolation), []);
  assert.equal(findCycles(refs), []);
});

const cases: [string, string, string[], string[]][] = [
  // [file, its text, the files it points at, the rules that must fire]
  ['src/install/index.ts', "import '../manage/uninstall.js';", ['src/manage/uninstall.ts'], ['install']],
  [
    'src/sync/execute.ts',
    "import '../install/index.js';",
    ['src/install/index.ts'],
    ['nothing-imports-install', 'sync'],
  ],
  ['src/sync/execute.ts', "const d = await import('../doctor/index.js');", ['src/doctor/index.ts'], ['sync']],
  ['src/sync/execute.ts', "import type { R } from '../doctor/types.js';", ['src/doctor/types.ts'], ['sync']],
  ['src/sync/execute.ts', "import '../manage/uninstall.js';", ['src/manage/uninstall.ts'], ['sync']],
  ['src/run/index.ts', "import '../sync/execute.js';", ['src/sync/execute.ts'], ['run']],
  ['src/manage/status.ts', "import '../doctor/index.js';", ['src/doctor/index.ts'], ['manage']],
  ['src/doctor/index.ts', "import '../sync/execute.js';", ['src/sync/execute.ts'], ['doctor']],
  ['src/doctor/index.ts', "import '../run/index.js';", ['src/run/index.ts'], ['doctor']],
  ['src/doctor/context.ts', "import { ask } from '../run/control-client.js';", [], ['doctor']],
  ['src/doctor/index.ts', "import '../manage/uninstall.js';", ['src/manage/uninstall.ts'], ['doctor']],
  ['src/demo/index.ts', "import '../doctor/index.js';", ['src/doctor/index.ts'], ['demo']],
  ['src/site/store.ts', "import '../sync/plan.js';", ['src/sync/plan.ts'], ['floors-below-commands']],
  ['src/runtime/deps.ts', "import '../run/health.js';", ['src/run/health.ts'], ['floors-below-commands']],
  ['src/service/jobs.ts', "const d = await import('../doctor/index.js');", [], ['floors-below-commands']],
  ['src/ui/progress.ts', "import type { X } from '../manage/uninstall.js';", [], ['floors-below-commands']],
  ['src/os/git.ts', "import '../site/paths.js';", ['src/site/paths.ts'], ['os-is-the-floor']],
  ['src/os/log.ts', "import type { SiteConfig } from '../site/config.js';", [], ['os-is-the-floor']],
  ['src/errors.ts', "import './os/fs.js';", ['src/os/fs.ts'], ['errors-at-the-bottom']],
  [
    'src/install/validate.ts',
    "import { isIP } from 'node:net';",
    [],
    ['only-os-and-service-touch-processes-and-sockets'],
  ],
  ['src/site/config.ts', "import { isIP } from 'net';", [], ['only-os-and-service-touch-processes-and-sockets']],
  [
    'src/run/index.ts',
    "import { spawn } from 'node:child_process';",
    [],
    ['one-wrapper-child_process', 'only-os-and-service-touch-processes-and-sockets'],
  ],
  [
    'src/run/health.ts',
    "const u = await import('undici');",
    [],
    ['one-wrapper-undici', 'only-os-and-service-touch-processes-and-sockets'],
  ],
  [
    'src/doctor/index.ts',
    "import { request } from 'node:https';",
    [],
    ['only-os-and-service-touch-processes-and-sockets'],
  ],
  [
    'src/sync/mirror.ts',
    "import { simpleGit } from 'simple-git';",
    [],
    ['one-wrapper-simple-git', 'only-os-and-service-touch-processes-and-sockets'],
  ],
  [
    'src/sync/deploy.ts',
    "import { execa } from 'execa';",
    [],
    ['one-wrapper-execa', 'only-os-and-service-touch-processes-and-sockets'],
  ],
  ['src/cli.ts', "import 'node:http';", [], ['one-wrapper-http', 'only-os-and-service-touch-processes-and-sockets']],
  // Inside os/ and service/ too, each library has its one wrapper.
  ['src/os/listeners.ts', "import { execa } from 'execa';", [], ['one-wrapper-execa']],
  ['src/service/systemd/index.ts', "import { simpleGit } from 'simple-git';", [], ['one-wrapper-simple-git']],
  ['src/os/fs.ts', "import { request } from 'undici';", [], ['one-wrapper-undici']],
  ['src/service/process/index.ts', "import { spawn } from 'node:child_process';", [], ['one-wrapper-child_process']],
  ['src/os/proxy.ts', "import { createServer } from 'node:http';", [], ['one-wrapper-http']],
  ['src/run/front-door.ts', "import { createProxyServer } from 'http-proxy-3';", [], ['one-wrapper-http-proxy-3']],
  ['src/sync/deploy.ts', "const m = './x.js'; await import(m);", [], ['imports-name-their-module']],
  [
    'test/helpers/fixture.ts',
    "import { run } from '../../src/os/exec.js';",
    ['src/os/exec.ts'],
    ['helpers-run-their-own-processes'],
  ],
  [
    'test/helpers/x.ts',
    "import { getFreePort } from '../../src/os/listeners.js';",
    [],
    ['helpers-run-their-own-processes'],
  ],
  ['test/unit/os/exec.test.ts', "import { spawn } from 'node:child_process';", [], ['unit-tests-are-pure']],
  ['test/unit/cli.test.ts', "import '../helpers/fixture.js';", ['test/helpers/fixture.ts'], ['unit-tests-are-pure']],
  ['test/unit/x.test.ts', "import { e2e } from '../helpers/e2e.js';", ['test/helpers/e2e.ts'], ['unit-tests-are-pure']],
];

guard('every rule fires on an import that breaks it, and only the rules it breaks', () => {
  for (const [from, text, others, want] of cases) assert.equal(broken(from, text, others), want, `${from}: ${text}`);
  const fired = new Set(cases.flatMap(([, , , want]) => want));
  for (const rule of RULES) assert.ok(fired.has(rule.id), `no case above proves that rule "${rule.id}" fires`);
});

guard('what is allowed stays allowed', () => {
  const fine: [string, string][] = [
    ['src/cli.ts', "const i = await import('./install/index.js');"],
    ['src/doctor/checks/server.ts', "import '../../run/health.js';"],
    ['src/doctor/context.ts', "import type { AgentStatus } from '../run/protocol.js';"],
    ['src/os/proxy.ts', "import type { Site } from '../errors.js';"],
    ['src/os/exec.ts', "import { spawn } from 'node:child_process';"],
    ['src/run/index.ts', "import type { IncomingMessage } from 'node:http';"],
    ['src/os/proxy.ts', "import { createProxyServer } from 'http-proxy-3';"],
    ['src/os/http-server.ts', "import { createServer } from 'node:http';"],
    ['src/os/git.ts', "import { simpleGit } from 'simple-git';"],
    ['test/e2e/os/exec.test.ts', "import { spawn } from 'node:child_process';"],
    ['test/unit/service/launchd.test.ts', "import { siteFor } from '../../helpers/launchd.js';"],
  ];
  for (const [from, text] of fine) assert.equal(broken(from, text), [], `${from}: ${text}`);
});

guard('a cycle is reported as a path back to its start; type-only and dynamic imports make none', () => {
  const refs = readGraph({
    'src/service/index.ts': "import './launchd/index.js';\n",
    'src/service/launchd/index.ts': "import './plist.js';\n",
    'src/service/launchd/plist.ts': "import '../index.js';\n",
    'src/os/a.ts': "import './a.js';\n",
    'src/sync/execute.ts': "const d = await import('./deploy.js');\n",
    'src/sync/deploy.ts': "import './execute.js';\n",
    'src/doctor/types.ts': "import type { C } from './context.js';\n",
    'src/doctor/context.ts': "import './types.js';\n",
  });
  assert.equal(findCycles(refs), [
    ['src/os/a.ts', 'src/os/a.ts'],
    ['src/service/index.ts', 'src/service/launchd/index.ts', 'src/service/launchd/plist.ts', 'src/service/index.ts'],
  ]);
});

guard.run();

// --------------------------------------------------------- the real tree

const layout = suite('architecture: src/, test/unit/ and test/helpers/ follow DESIGN §7');

const files = { ...readSources(ROOT, 'src'), ...readSources(ROOT, 'test/unit'), ...readSources(ROOT, 'test/helpers') };
const refs = readGraph(files);

layout('src/ is there to check', () => {
  assert.ok(Object.keys(files).filter((f) => f.startsWith('src/')).length > 20, 'src/ has its modules');
  assert.ok(refs.length > 100, `only ${refs.length} imports found`);
});

layout('no import cycle', () => {
  const cycles = findCycles(refs).map((c) => `cycle: ${c.join(' → ')}`);
  assert.ok(cycles.length === 0, `${cycles.length} import cycle(s):\n${cycles.join('\n')}`);
});

layout('every import follows the rules', () => {
  const lines = checkRules(refs).map(describeViolation);
  assert.ok(lines.length === 0, `${lines.length} import(s) break the layout:\n${lines.join('\n')}`);
});

layout.run();
