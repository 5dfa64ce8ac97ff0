/**
 * The demo's sample site, as data (DESIGN §12): a dev server with no framework and no
 * registry dependency. `npm run dev` starts server.js, which listens where HOST and PORT
 * say (localhost-ops passes them to a dev script it does not recognise), and serves one
 * page: the text last merged and the commit the server was started from. Its one
 * dependency is `file:vendor/demo-page`, so `npm ci` is real and works offline.
 */

export const DEMO_PACKAGE = 'localhost-ops-demo';
export const FIRST_MESSAGE = 'Hello from main';

/** What `demo --break` adds to server.js before it listens: a check for a file that was never committed. */
export const BREAK_LINES = `// Merged by demo --break: this main needs a settings.json that was never committed.
if (!fs.existsSync(path.join(__dirname, 'settings.json'))) {
  console.error('server.js: cannot start: settings.json is missing');
  process.exit(1);
}`;

const PACKAGE_JSON =
  JSON.stringify(
    {
      name: DEMO_PACKAGE,
      version: '1.0.0',
      private: true,
      description: 'The localhost-ops demo site: a dev server that shows the commit it was started from.',
      scripts: { dev: 'node server.js' },
      dependencies: { 'demo-page': 'file:vendor/demo-page' },
    },
    null,
    2,
  ) + '\n';

/** What `npm install --package-lock-only --offline` writes for PACKAGE_JSON (lockfile v3). */
const PACKAGE_LOCK =
  JSON.stringify(
    {
      name: DEMO_PACKAGE,
      version: '1.0.0',
      lockfileVersion: 3,
      requires: true,
      packages: {
        '': { name: DEMO_PACKAGE, version: '1.0.0', dependencies: { 'demo-page': 'file:vendor/demo-page' } },
        'node_modules/demo-page': { resolved: 'vendor/demo-page', link: true },
        'vendor/demo-page': { version: '1.0.0' },
      },
    },
    null,
    2,
  ) + '\n';

/** The line of server.js before which demo --break puts its failing check. */
const SERVER_START = "const host = process.env.HOST || '127.0.0.1';";

const SERVER_JS = `'use strict';
// The localhost-ops demo site's dev server. No framework: it listens where HOST and PORT say.
const http = require('node:http');
const fs = require('node:fs');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const { renderPage } = require('demo-page');

${SERVER_START}
const port = Number(process.env.PORT);
if (!port) {
  console.error('server.js: PORT is not set (localhost-ops gives each dev server a port of its own)');
  process.exit(2);
}

/** The commit this server was started from: what the page says it serves. */
function readCommit() {
  try {
    const out = execFileSync('git', ['log', '-1', '--format=%H%n%s'], { cwd: __dirname, encoding: 'utf8' });
    const [sha, subject] = out.split('\\n');
    return { sha, subject };
  } catch {
    return { sha: 'unknown', subject: '' };
  }
}

const commit = readCommit();
const message = fs.readFileSync(path.join(__dirname, 'message.txt'), 'utf8').replace(/\\n$/, '');
const page = renderPage({ commit, message, startedAt: new Date() });

http
  .createServer((req, res) => {
    if (req.url === '/commit') {
      // The open page asks this every second, and reloads itself once another commit serves.
      res.writeHead(200, { 'content-type': 'text/plain', 'cache-control': 'no-store' });
      res.end(commit.sha);
      return;
    }
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
    res.end(page);
  })
  .listen(port, host, () => console.log('demo site ' + commit.sha.slice(0, 7) + ' listening on ' + host + ':' + port));

process.on('SIGTERM', () => process.exit(0));
`;

const DEMO_PAGE_PACKAGE =
  JSON.stringify({ name: 'demo-page', version: '1.0.0', private: true, main: 'index.js' }, null, 2) + '\n';

const DEMO_PAGE_JS = `'use strict';
// The demo site's one page. Every text on it is escaped: a merged text is data, never markup.

function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
}

exports.escapeHtml = escapeHtml;

exports.renderPage = ({ commit, message, startedAt }) => \`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>localhost-ops demo</title>
<style>
  body { font: 16px/1.5 system-ui, sans-serif; margin: 0; background: #f6f7f9; color: #1d2330; }
  main { max-width: 44rem; margin: 4rem auto; padding: 0 1.5rem; }
  .label { color: #5b6474; font-size: 0.9rem; margin: 0; }
  h1 { font-size: 2.4rem; margin: 0.3rem 0 1.5rem; white-space: pre-wrap; overflow-wrap: anywhere; }
  dl { display: grid; grid-template-columns: max-content 1fr; gap: 0.3rem 1rem; margin: 0 0 2rem; }
  dt { color: #5b6474; }
  dd { margin: 0; }
  code { font: 0.9em ui-monospace, monospace; background: #e8ebf0; padding: 0.1em 0.3em; border-radius: 3px; }
</style>
</head>
<body>
<main>
<p class="label">localhost-ops demo: this page is main</p>
<h1 id="message">\${escapeHtml(message)}</h1>
<dl>
  <dt>commit</dt><dd><code id="commit">\${escapeHtml(commit.sha)}</code></dd>
  <dt>subject</dt><dd>\${escapeHtml(commit.subject)}</dd>
  <dt>server started</dt><dd>\${escapeHtml(startedAt.toISOString())}</dd>
</dl>
<p>Try <code>localhost-ops demo --merge "Hello"</code>: this page shows it within seconds.
Then <code>localhost-ops demo --break</code>: a main whose server crashes never replaces it.</p>
</main>
<script>
  // Reload once another commit serves (a merge switched the slots).
  const served = \${JSON.stringify(commit.sha).replace(/</g, '\\\\u003c')};
  setInterval(async () => {
    try {
      const res = await fetch('/commit', { cache: 'no-store' });
      if (res.ok && (await res.text()) !== served) location.reload();
    } catch {}
  }, 1000);
</script>
</body>
</html>
\`;
`;

const README = `# localhost-ops demo site

Made by \`localhost-ops demo\`. Its dev server (\`npm run dev\`, server.js) shows the text in
message.txt and the commit it was started from. \`localhost-ops demo --merge TEXT\` merges a
new message.txt; \`localhost-ops demo --remove\` removes it all.
`;

/** The sample site's files for one commit: the merged message, and a server that crashes at start when broken. */
export function getSiteFiles(message: string, broken = false): Record<string, string> {
  return {
    '.gitignore': 'node_modules/\n',
    'README.md': README,
    'package.json': PACKAGE_JSON,
    'package-lock.json': PACKAGE_LOCK,
    'server.js': broken ? SERVER_JS.replace(SERVER_START, `${BREAK_LINES}\n${SERVER_START}`) : SERVER_JS,
    'message.txt': message + '\n',
    'vendor/demo-page/package.json': DEMO_PAGE_PACKAGE,
    'vendor/demo-page/index.js': DEMO_PAGE_JS,
  };
}
