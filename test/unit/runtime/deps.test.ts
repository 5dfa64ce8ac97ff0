/** npm ci failing for want of the registry, told apart from every other npm failure. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { getNpmNetworkCode } from '../../../src/runtime/deps.js';

test('getNpmNetworkCode: npm failing for want of the registry, and nothing else', () => {
  const rows: [string, string | null][] = [
    ['npm error code ECONNREFUSED\nnpm error syscall connect', 'ECONNREFUSED'],
    ['npm ERR! code ENOTFOUND\nnpm ERR! errno ENOTFOUND', 'ENOTFOUND'],
    ['npm error code EAI_AGAIN', 'EAI_AGAIN'],
    [
      'npm error code EUSAGE\nnpm error `npm ci` can only install packages when your package.json and package-lock.json are in sync',
      null,
    ],
    ['npm error code EJSONPARSE', null],
    ['', null],
  ];
  for (const [output, code] of rows) assert.is(getNpmNetworkCode(output), code, output);
});

test.run();
