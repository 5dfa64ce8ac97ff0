/** Reading /proc/net/tcp{,6} text, loopback addresses and "is this folder inside that one", as tables. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, mkdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isInside, isLoopbackAddress, parseProcNetTcp } from '../../../src/os/listeners.js';

const TCP = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:10E1 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 123456 1 0000000000000000 100 0 0 10 0
   1: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 2345 1 0000000000000000 100 0 0 10 0
   2: 0100007F:10E1 0100007F:C350 01 00000000:00000000 00:00000000 00000000  1000        0 123458 1 0000000000000000 20 4 30 10 -1
   3: 0A00A8C0:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 777 1 0000000000000000 100 0 0 10 0
`;

const TCP6 = `  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000001000000:1F90 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 5001 1 0000000000000000 100 0 0 10 0
   1: 00000000000000000000000000000000:0050 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 5002 1 0000000000000000 100 0 0 10 0
   2: 0000000000000000FFFF00000100007F:10E1 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 5003 1 0000000000000000 100 0 0 10 0
   3: 000080FE000000000000000001000000:0016 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 5004 1 0000000000000000 100 0 0 10 0
   4: 00000000000000000000000001000000:1F90 00000000000000000000000001000000:D431 01 00000000:00000000 00:00000000 00000000  1000        0 5005 1 0000000000000000 20 4 30 10 -1
`;

test('parseProcNetTcp: v4 LISTEN rows only', () => {
  assert.equal(parseProcNetTcp(TCP, false), [
    { address: '127.0.0.1', port: 4321, inode: 123456 },
    { address: '0.0.0.0', port: 22, inode: 2345 },
    { address: '192.168.0.10', port: 8080, inode: 777 },
  ]);
});

test('parseProcNetTcp: v6 LISTEN rows only, incl. v4-mapped', () => {
  assert.equal(parseProcNetTcp(TCP6, true), [
    { address: '::1', port: 8080, inode: 5001 },
    { address: '::', port: 80, inode: 5002 },
    { address: '::ffff:127.0.0.1', port: 4321, inode: 5003 },
    { address: 'fe80::1', port: 22, inode: 5004 },
  ]);
});

test('parseProcNetTcp: wrong family and junk give nothing', () => {
  assert.equal(parseProcNetTcp(TCP, true), []);
  assert.equal(parseProcNetTcp(TCP6, false), []);
  assert.equal(parseProcNetTcp('', false), []);
  assert.equal(parseProcNetTcp('garbage\n\n', true), []);
});

test('isLoopbackAddress', () => {
  const cases: [string, boolean][] = [
    ['127.0.0.1', true],
    ['127.1.2.3', true],
    ['::1', true],
    ['[::1]', true],
    ['::ffff:127.0.0.1', true],
    ['0.0.0.0', false],
    ['::', false],
    ['192.168.0.10', false],
    ['::ffff:10.0.0.1', false],
    ['128.0.0.1', false],
    ['fe80::1', false],
  ];
  for (const [address, want] of cases) assert.is(isLoopbackAddress(address), want, address);
});

test('isInside', () => {
  const root = mkdtempSync(join(tmpdir(), 'procinfo-'));
  try {
    mkdirSync(join(root, 'site', 'src'), { recursive: true });
    mkdirSync(join(root, 'site-other'));
    symlinkSync(join(root, 'site'), join(root, 'link'));
    const cases: [string, string, boolean][] = [
      [join(root, 'site'), join(root, 'site'), true],
      [join(root, 'site', 'src'), join(root, 'site'), true],
      [join(root, 'site', 'src', 'missing', 'deeper'), join(root, 'site'), true],
      [join(root, 'site', 'src', '..', '..'), join(root, 'site'), false],
      [join(root, 'site-other'), join(root, 'site'), false],
      [root, join(root, 'site'), false],
      [join(root, 'link', 'src'), join(root, 'site'), true],
      [join(root, 'site', 'src'), join(root, 'link'), true],
      ['/', join(root, 'site'), false],
      [join(root, 'site'), '/', true],
    ];
    for (const [child, parent, want] of cases) assert.is(isInside(child, parent), want, `${child} in ${parent}`);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test.run();
