/** The two job specs as data: what each backend's sync agent runs with, for its memory (DESIGN §3.2). */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { getEntryArgument, getJobSpecs } from '../../../src/service/jobs.js';
import type { ServiceKind } from '../../../src/site/config.js';
import { siteFor } from '../../helpers/launchd.js';

const jobs = suite('jobs: the agents Node runs');

function specsFor(service: ServiceKind, platform: NodeJS.Platform) {
  const site = siteFor('/tmp/x');
  site.config = { ...site.config, service };
  const [sync, server] = getJobSpecs(site, platform);
  return { sync, server };
}

jobs('the sync agent runs with 1 MB semi-spaces, and with two malloc arenas where glibc reads that', () => {
  // service, platform → the sync agent's MALLOC_ARENA_MAX (launchd is macOS whatever runs the tests)
  const table: [ServiceKind, NodeJS.Platform, string | undefined][] = [
    ['systemd', 'linux', '2'],
    ['process', 'linux', '2'],
    ['process', 'darwin', undefined],
    ['launchd', 'darwin', undefined],
    ['launchd', 'linux', undefined],
  ];
  for (const [service, platform, arenas] of table) {
    const { sync, server } = specsFor(service, platform);
    const what = `${service} on ${platform}`;
    assert.equal(
      sync.programArguments,
      [
        '/usr/local/bin/node',
        '--max-semi-space-size=1',
        '/opt/localhost-ops/bin/localhost-ops.js',
        'sync',
        '--watch',
        '--name',
        'site',
      ],
      what,
    );
    assert.is(sync.environment.MALLOC_ARENA_MAX, arenas, what);
    // The server agent proxies every request: Node's defaults, and nothing of the sync agent's.
    assert.equal(
      server.programArguments,
      ['/usr/local/bin/node', '/opt/localhost-ops/bin/localhost-ops.js', 'run', '--name', 'site'],
      what,
    );
    assert.not.ok('MALLOC_ARENA_MAX' in server.environment, what);
    assert.is(sync.environment.PATH, server.environment.PATH, what);
  }
});

jobs("the tool's entry is found past Node's own flags", () => {
  const table: [string[], string | null][] = [
    [['/n', '/e.js', 'run'], '/e.js'],
    [['/n', '--max-semi-space-size=1', '/e.js', 'sync', '--watch'], '/e.js'],
    [['/n', '--a', '--b=2', '/e.js'], '/e.js'],
    [['/n'], null],
    [['/n', '--only-flags'], null],
  ];
  for (const [args, entry] of table) assert.is(getEntryArgument(args), entry, args.join(' '));
});

jobs.run();
