/**
 * The tiny test site: a dev server that is a Node script, with a local `file:` dependency
 * so that `npm ci` is real and works offline. Marker files change its behaviour the way a
 * broken main would: `CRASH` exits at start, `STATUS` sets the answer's status code.
 */
export const SERVER_JS = `
const http = require('node:http');
const fs = require('node:fs');
const greeting = require('greeting');
const args = process.argv.slice(2);
const arg = (name, fallback) => { const i = args.indexOf('--' + name); return i >= 0 ? args[i + 1] : fallback; };
const host = arg('host', '127.0.0.1');
const port = Number(arg('port', process.env.PORT || 0));
if (!port) { console.error('server.js: no --port given (a test site never takes a fixed port)'); process.exit(2); }
if (fs.existsSync('CRASH')) { console.error('boom: CRASH marker present'); process.exit(3); }
const status = fs.existsSync('STATUS') ? Number(fs.readFileSync('STATUS', 'utf8')) : 200;
http.createServer((req, res) => {
  const content = fs.readFileSync('content.txt', 'utf8').trim();
  res.writeHead(status, { 'content-type': 'text/plain' });
  res.end(greeting.greet(content) + '\\n');
}).listen(port, host, () => console.log('listening on ' + host + ':' + port + ' node ' + process.version));
process.on('SIGTERM', () => process.exit(0));
`;

export const GREETING_PKG = JSON.stringify({ name: 'greeting', version: '1.0.0', main: 'index.js' }, null, 2) + '\n';
export const GREETING_JS = `exports.greet = (s) => 'site says: ' + s;\n`;

export function packageJson(extra: Record<string, unknown> = {}): string {
  return (
    JSON.stringify(
      {
        name: 'tiny-site',
        version: '1.0.0',
        private: true,
        scripts: { dev: 'node server.js' },
        dependencies: { greeting: 'file:vendor/greeting' },
        ...extra,
      },
      null,
      2,
    ) + '\n'
  );
}

export function siteFiles(content: string): Record<string, string> {
  return {
    'package.json': packageJson(),
    'server.js': SERVER_JS,
    'content.txt': content + '\n',
    'vendor/greeting/package.json': GREETING_PKG,
    'vendor/greeting/index.js': GREETING_JS,
    '.gitignore': 'node_modules/\n',
  };
}
