/** macOS privacy protection as data: which real paths the jobs are kept out of, and a refusal in a log. */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  findDenial,
  findProtectedPath,
  getJobPlatform,
  getProtectedPlace,
  resolveReal,
} from '../../../src/service/privacy.js';

const places = suite('privacy: protected folders, by real path, home and platform');

const HOME = '/Users/me';

places('the table: ~/Documents, ~/Desktop, ~/Downloads, iCloud Drive, cloud storage and /Volumes/… on macOS', () => {
  const table: [string, string | null, string | null][] = [
    // path, the folder named (null: not protected), kind
    ['/Users/me/Documents/ops-local/site', '~/Documents', 'privacy'],
    ['/Users/me/Documents', '~/Documents', 'privacy'],
    ['/Users/me/Documents/', '~/Documents', 'privacy'],
    ['/Users/me/documents/ops', '~/Documents', 'privacy'], // APFS ignores case
    ['/Users/me/Desktop/site', '~/Desktop', 'privacy'],
    ['/Users/me/Downloads/x', '~/Downloads', 'privacy'],
    [
      '/Users/me/Library/Mobile Documents/com~apple~CloudDocs/ops',
      'iCloud Drive (~/Library/Mobile Documents)',
      'privacy',
    ],
    ['/Users/me/Library/CloudStorage/Dropbox/ops', 'a cloud storage folder (~/Library/CloudStorage)', 'privacy'],
    ['/Volumes/Backup/ops-local/site', '/Volumes/Backup', 'external-volume'],
    ['/Volumes/My Disk', '/Volumes/My Disk', 'external-volume'],
    // Not protected:
    ['/Users/me/ops-local/site', null, null],
    ['/Users/me/DocumentsArchive/site', null, null],
    ['/Users/me/dev/Documents/site', null, null],
    ['/Users/other/Documents/site', null, null],
    ['/Users/me/Library/Application Support/x', null, null],
    ['/opt/ops', null, null],
    ['/VolumesX/a', null, null],
  ];
  for (const [path, folder, kind] of table) {
    const got = getProtectedPlace(path, HOME, 'darwin');
    assert.is(got?.folder ?? null, folder, path);
    assert.is(got?.kind ?? null, kind, path);
  }
  assert.is(getProtectedPlace('/Users/me/Documents/x', '/Users/me/', 'darwin')?.path, '/Users/me/Documents');
  assert.is(getProtectedPlace('/Documents/x', '/', 'darwin'), null, 'a home of / guards nothing');
});

places('elsewhere nothing guards these folders; launchd jobs follow macOS rules wherever they run', () => {
  for (const platform of ['linux', 'freebsd', 'win32'] as const) {
    assert.is(getProtectedPlace('/Users/me/Documents/x', HOME, platform), null, platform);
    assert.is(getProtectedPlace('/Volumes/Backup/x', HOME, platform), null, platform);
  }
  assert.is(getJobPlatform('launchd', 'linux'), 'darwin');
  assert.is(getJobPlatform('process', 'linux'), 'linux');
  assert.is(getJobPlatform('systemd', 'linux'), 'linux');
  assert.is(getJobPlatform('process', 'darwin'), 'darwin');
});

places('a symlinked LOCALHOST_OPS_HOME or HOME does not slip through: the real path counts', () => {
  const root = mkdtempSync(join(tmpdir(), 'lops-privacy-'));
  try {
    const home = join(root, 'home');
    mkdirSync(join(home, 'Documents', 'real'), { recursive: true });
    // ~/ops → ~/Documents/real: the site folder below it does not exist yet.
    symlinkSync(join(home, 'Documents', 'real'), join(home, 'ops'));
    const site = join(home, 'ops', 'site');
    assert.is(resolveReal(site), join(home, 'Documents', 'real', 'site'));
    const found = findProtectedPath([['site folder', site]], home, 'darwin');
    assert.is(found?.what, 'site folder');
    assert.is(found?.place.folder, '~/Documents');
    assert.is(found?.real, join(home, 'Documents', 'real', 'site'));
    // HOME itself a symlink (/Users/me → elsewhere): its real path counts too.
    symlinkSync(home, join(root, 'link-home'));
    const viaLink = findProtectedPath(
      [['site folder', join(home, 'Documents', 'x')]],
      join(root, 'link-home'),
      'darwin',
    );
    assert.is(viaLink?.place.folder, '~/Documents');
    assert.is(findProtectedPath([['site folder', join(home, 'ops-local', 'site')]], home, 'darwin'), null);
    assert.is(findProtectedPath([['site folder', site]], home, 'linux'), null);
    assert.is(
      findProtectedPath(
        [
          ['site folder', join(home, 'ops-local', 'site')],
          ['tool', join(home, 'Downloads', 'localhost-ops', 'bin', 'localhost-ops.js')],
        ],
        home,
        'darwin',
      )?.what,
      'tool',
    );
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

places.run();

const denials = suite('privacy: a refusal in a job log');

const REPO = '/Users/me/Documents/site';

denials("git's and Node's real EPERM lines name a path under the repo", () => {
  const lines = [
    '2026-03-16 20:29:43 [4242] fetch: started',
    `2026-03-16 20:29:43 [4242] fetch: failed: git fetch failed: fatal: cannot change to '${REPO}': Operation not permitted`,
  ];
  assert.equal(findDenial(lines, [REPO]), { line: lines[1], path: REPO, under: REPO });
  const node = `Error: EPERM: operation not permitted, open '${REPO}/package.json'`;
  assert.equal(findDenial([node], [REPO]), { line: node, path: `${REPO}/package.json`, under: REPO });
  const ls = `ls: ${REPO}/.git: Operation not permitted`;
  assert.is(findDenial([ls], [REPO])?.path, `${REPO}/.git`);
  const uncaught = `[Error: EPERM: operation not permitted, scandir "${REPO}/src"] { errno: -1, code: 'EPERM' }`;
  assert.is(findDenial([uncaught], [REPO])?.path, `${REPO}/src`);
});

denials('the latest refusal counts; other paths and other errors are not ours', () => {
  const old = `fatal: cannot change to '${REPO}': Operation not permitted`;
  const latest = `Error: EPERM: operation not permitted, open '${REPO}/x'`;
  assert.is(findDenial([old, 'ok', latest], [REPO])?.line, latest);
  assert.is(findDenial([`Error: EPERM: operation not permitted, open '/Users/me/ops-local/site/x'`], [REPO]), null);
  assert.is(findDenial([`fatal: cannot change to '${REPO}': No such file or directory`], [REPO]), null);
  assert.is(findDenial([`Error: EPERM: operation not permitted, open '${REPO}-old/x'`], [REPO]), null);
  assert.is(findDenial(['Error: EPERM: operation not permitted, uv_cwd'], [REPO]), null, 'no path named');
  assert.is(findDenial([], [REPO]), null);
});

denials.run();
