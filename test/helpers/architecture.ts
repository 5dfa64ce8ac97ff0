/**
 * The dependency rules of docs/DESIGN.md §7, as data, and a checker for them. The checker is
 * pure: it takes source texts by path ("src/sync/execute.ts" → its text), reads their imports
 * with the TypeScript parser (static `import … from`, `export … from`, `import('…')`,
 * `require('…')`, `typeof import('…')`), and reports every import that breaks a rule and
 * every import cycle. test/unit/architecture.test.ts runs it on src/ and on small made-up
 * trees that prove each rule fires.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { posix } from 'node:path';
import ts from 'typescript';

export interface ImportRef {
  /** The importing file, relative to the repository ("src/sync/execute.ts"). */
  from: string;
  line: number;
  /** The specifier as written ("../doctor/index.js"); "<computed>" when not a string literal. */
  spec: string;
  /** Repository path of an import of ours ("src/doctor/index.ts"); the module name otherwise. */
  target: string;
  kind: 'static' | 'dynamic';
  /** Erased at run time (`import type`, `export type`, every name `type`, `typeof import()`). */
  typeOnly: boolean;
}

export interface Rule {
  id: string;
  /** The sentence of DESIGN §7 the rule enforces, printed with each violation. */
  says: string;
  /** Files the rule applies to: repository path prefixes ("src/os/") or exact files. */
  from: string[];
  /** ...except these. */
  unless?: string[];
  /** Targets it forbids: path prefixes of ours, or module names (which also cover "name/sub"). */
  forbid: string[];
  /** ...except these targets. */
  allow?: string[];
  /** Whether type-only imports count. They do for layering; a type loads no module, so not for side effects. */
  types: boolean;
}

export interface Violation {
  ref: ImportRef;
  rule: Rule;
}

// ------------------------------------------------------------------- the rules, as data

/** The folders that each hold a command and its engine (DESIGN §7). */
export const COMMAND_FOLDERS = [
  'src/install/',
  'src/sync/',
  'src/run/',
  'src/doctor/',
  'src/manage/',
  'src/demo/',
] as const;

/** Modules that spawn, signal or open sockets: only os/ and service/ may load them. */
export const SIDE_EFFECT_MODULES = [
  'node:child_process',
  'child_process',
  'node:net',
  'net',
  'node:http',
  'http',
  'node:https',
  'https',
  'undici',
  'execa',
  'simple-git',
] as const;

/** Command folders may import only what their row allows among the command folders. */
const commandRow = (id: string, says: string, allow: string[]): Rule => ({
  id,
  says,
  from: [`src/${id}/`],
  forbid: [...COMMAND_FOLDERS],
  allow: [`src/${id}/`, ...allow],
  types: true,
});

export const RULES: Rule[] = [
  // Among the command folders, dependencies point one way: install → sync → run.
  commandRow(
    'install',
    'install may use sync (the first sync), run (health) and doctor (the verdict it prints); nothing else among the commands',
    ['src/sync/', 'src/run/', 'src/doctor/'],
  ),
  commandRow(
    'sync',
    "sync may use run's control client and health, and never doctor: a status change calls a hook the command passes in",
    ['src/run/'],
  ),
  commandRow('run', 'run, the server agent, uses no other command folder', []),
  commandRow('manage', "manage's small commands may use sync and run", ['src/sync/', 'src/run/']),
  commandRow(
    'doctor',
    "doctor reads state and asks backends but drives nothing: of run/ only its read-only helpers (health, the protocol data, the agent's status), never install/, sync/ or manage/",
    ['src/run/health.ts', 'src/run/protocol.ts', 'src/run/status-client.ts'],
  ),
  commandRow('demo', 'demo drives sync, run and manage (it installs through the command line, not install/)', [
    'src/sync/',
    'src/run/',
    'src/manage/',
  ]),
  {
    id: 'nothing-imports-install',
    says: 'nothing imports install/ (cli.ts loads each command when used)',
    from: ['src/'],
    unless: ['src/install/', 'src/cli.ts'],
    forbid: ['src/install/'],
    types: true,
  },
  {
    id: 'floors-below-commands',
    says: 'the shared floors site/, runtime/, service/, ui/ (and errors.ts) import no command folder',
    from: ['src/site/', 'src/runtime/', 'src/service/', 'src/ui/', 'src/errors.ts'],
    forbid: [...COMMAND_FOLDERS],
    types: true,
  },
  {
    id: 'os-is-the-floor',
    says: 'a module in os/ imports nothing above it: only os/ itself and errors.ts',
    from: ['src/os/'],
    forbid: ['src/'],
    allow: ['src/os/', 'src/errors.ts'],
    types: true,
  },
  {
    id: 'errors-at-the-bottom',
    says: 'errors.ts imports no other module of ours',
    from: ['src/errors.ts'],
    forbid: ['src/'],
    allow: ['src/errors.ts'],
    types: true,
  },
  {
    id: 'only-os-and-service-touch-processes-and-sockets',
    says: 'only os/ and service/ import node:child_process, node:net, node:http(s), undici, execa or simple-git',
    from: ['src/'],
    unless: ['src/os/', 'src/service/'],
    forbid: [...SIDE_EFFECT_MODULES],
    types: false,
  },
  // The design card's libraries, each wrapped once in os/ (DESIGN §7): no second way in.
  ...(
    [
      [
        'execa',
        ['src/os/exec.ts', 'src/os/child.ts'],
        'execa runs every child process, through os/exec.ts and os/child.ts',
      ],
      ['simple-git', ['src/os/git.ts'], 'simple-git runs every git command, through os/git.ts'],
      ['undici', ['src/os/http.ts'], 'undici makes every HTTP request, through os/http.ts'],
      ['http-proxy-3', ['src/os/proxy.ts'], "http-proxy-3 is the front door's proxy, wrapped once in os/proxy.ts"],
      [
        'node:child_process',
        ['src/os/exec.ts'],
        "node:child_process only in os/exec.ts, for the one thing execa cannot do: a detached daemon's log as a file descriptor",
      ],
      [
        'node:http',
        ['src/os/http-server.ts'],
        'node:http only for the sockets the server agent listens on (os/http-server.ts)',
      ],
    ] as const
  ).map(([module, owners, says]): Rule => ({
    id: `one-wrapper-${module.replace('node:', '')}`,
    says,
    from: ['src/'],
    unless: [...owners],
    forbid: [module],
    types: false,
  })),
  {
    id: 'imports-name-their-module',
    says: 'every import names its module literally, so that these rules can follow it',
    from: ['src/'],
    forbid: ['<computed>'],
    types: true,
  },
  {
    id: 'helpers-run-their-own-processes',
    says: 'test helpers run processes, open sockets and speak HTTP themselves (test/helpers/proc.ts), never through src/os/',
    from: ['test/helpers/'],
    forbid: ['src/os/'],
    types: false,
  },
  {
    id: 'unit-tests-are-pure',
    says: 'test/unit/ runs no process, git, npm or socket: no child_process, net or HTTP, no fixture or e2e helper',
    from: ['test/unit/'],
    forbid: [
      ...SIDE_EFFECT_MODULES,
      'test/helpers/fixture.ts',
      'test/helpers/e2e.ts',
      'test/helpers/proc.ts',
      'test/helpers/inject.ts',
      'test/helpers/launchctl-standin.ts',
      'test/helpers/plistlib.ts',
      'test/e2e/',
    ],
    types: false,
  },
];

// ------------------------------------------------------------------- reading imports

/** "src/sync/execute.ts" + "../doctor/index.js" → "src/doctor/index.ts"; bare names stay as they are. */
export function resolveSpec(from: string, spec: string, exists: (path: string) => boolean): string {
  if (!spec.startsWith('.')) return spec;
  const joined = posix.normalize(posix.join(posix.dirname(from), spec));
  const candidates = [joined.replace(/\.(m|c)?js$/, '.$1ts'), joined, `${joined}.ts`, `${joined}/index.ts`];
  return candidates.find(exists) ?? candidates[0];
}

/** Every import of one source text. `exists` tells which repository paths are files (for resolution). */
export function parseImports(from: string, text: string, exists: (path: string) => boolean): ImportRef[] {
  const source = ts.createSourceFile(from, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const refs: ImportRef[] = [];
  const add = (node: ts.Node, specNode: ts.Node | undefined, kind: ImportRef['kind'], typeOnly: boolean) => {
    const spec = specNode && ts.isStringLiteralLike(specNode) ? specNode.text : '<computed>';
    const line = source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1;
    const target = spec === '<computed>' ? spec : resolveSpec(from, spec, exists);
    refs.push({ from, line, spec, target, kind, typeOnly });
  };
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node)) {
      const clause = node.importClause;
      const named = clause?.namedBindings;
      const allNamedAreTypes =
        !!named && ts.isNamedImports(named) && named.elements.length > 0 && named.elements.every((e) => e.isTypeOnly);
      const typeOnly = !!clause && (clause.isTypeOnly || (!clause.name && allNamedAreTypes));
      add(node, node.moduleSpecifier, 'static', typeOnly);
    } else if (ts.isExportDeclaration(node) && node.moduleSpecifier) {
      const named = node.exportClause;
      const allNamedAreTypes =
        !!named && ts.isNamedExports(named) && named.elements.length > 0 && named.elements.every((e) => e.isTypeOnly);
      add(node, node.moduleSpecifier, 'static', node.isTypeOnly || allNamedAreTypes);
    } else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference)) {
      add(node, node.moduleReference.expression, 'static', node.isTypeOnly);
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      add(node, node.arguments[0], 'dynamic', false);
    } else if (
      ts.isCallExpression(node) &&
      ts.isIdentifier(node.expression) &&
      node.expression.text === 'require' &&
      node.arguments.length === 1
    ) {
      add(node, node.arguments[0], 'dynamic', false);
    } else if (ts.isImportTypeNode(node)) {
      const arg = node.argument;
      add(node, ts.isLiteralTypeNode(arg) ? arg.literal : undefined, 'static', true);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return refs;
}

/** The imports of a whole tree given as path → text. */
export function readGraph(files: Record<string, string>): ImportRef[] {
  const exists = (path: string) => Object.hasOwn(files, path);
  return Object.keys(files)
    .sort()
    .flatMap((path) => parseImports(path, files[path], exists));
}

/** Every .ts file under `dir` (repository-relative), with its text. */
export function readSources(root: string, dir: string): Record<string, string> {
  const files: Record<string, string> = {};
  const walk = (rel: string) => {
    for (const name of readdirSync(posix.join(root, rel)).sort()) {
      const path = posix.join(rel, name);
      if (statSync(posix.join(root, path)).isDirectory()) walk(path);
      else if (name.endsWith('.ts')) files[path] = readFileSync(posix.join(root, path), 'utf8');
    }
  };
  if (existsSync(posix.join(root, dir))) walk(dir);
  return files;
}

// ------------------------------------------------------------------- checking

const covers = (zone: string, path: string) =>
  zone.endsWith('/') ? path.startsWith(zone) : path === zone || (!zone.includes('.') && path.startsWith(`${zone}/`));

const inAny = (zones: readonly string[] | undefined, path: string) => (zones ?? []).some((z) => covers(z, path));

export function checkRules(refs: ImportRef[], rules: Rule[] = RULES): Violation[] {
  const out: Violation[] = [];
  for (const ref of refs) {
    for (const rule of rules) {
      if (ref.typeOnly && !rule.types) continue;
      if (!inAny(rule.from, ref.from) || inAny(rule.unless, ref.from)) continue;
      if (inAny(rule.forbid, ref.target) && !inAny(rule.allow, ref.target)) out.push({ ref, rule });
    }
  }
  return out;
}

/**
 * Import cycles among our own files, through the imports that run when a module loads
 * (static and not type-only; a dynamic import runs later and a type loads nothing).
 * One cycle per strongly connected component, as a path that ends where it starts.
 */
export function findCycles(refs: ImportRef[]): string[][] {
  const edges = new Map<string, string[]>();
  for (const r of refs) {
    if (r.kind !== 'static' || r.typeOnly || !r.target.includes('/')) continue;
    const list = edges.get(r.from) ?? [];
    if (!list.includes(r.target)) list.push(r.target);
    edges.set(r.from, list);
  }
  // Tarjan's strongly connected components.
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const components: string[][] = [];
  let next = 0;
  const connect = (v: string): void => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of edges.get(v) ?? []) {
      if (!index.has(w)) {
        connect(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1 || (edges.get(v) ?? []).includes(v)) components.push(component);
    }
  };
  for (const v of [...edges.keys()].sort()) if (!index.has(v)) connect(v);
  // A concrete cycle through each component: breadth-first from its first file back to it.
  return components.map((component) => {
    const members = new Set(component);
    const start = [...component].sort()[0];
    const previous = new Map<string, string>();
    const queue = [start];
    while (queue.length > 0) {
      const v = queue.shift()!;
      for (const w of edges.get(v) ?? []) {
        if (!members.has(w)) continue;
        if (w === start) {
          const path = [v];
          while (path[0] !== start) path.unshift(previous.get(path[0])!);
          return [...path, start];
        }
        if (!previous.has(w)) {
          previous.set(w, v);
          queue.push(w);
        }
      }
    }
    return [start, start];
  });
}

/** One line per violation: where, what, which rule, and its sentence. */
export function describeViolation({ ref, rule }: Violation): string {
  const how = ref.kind === 'dynamic' ? 'import()' : ref.typeOnly ? 'import type' : 'import';
  return `${ref.from}:${ref.line} ${how} ${ref.target}: [${rule.id}] ${rule.says}`;
}
