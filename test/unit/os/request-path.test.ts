/** --health-path is sent percent-encoded (DESIGN §3 Limits): what goes on the wire for each path. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { encodeRequestPath } from '../../../src/os/http.js';

const rows: [string, string][] = [
  ['/', '/'],
  ['/health', '/health'],
  ['/日本', '/%E6%97%A5%E6%9C%AC'],
  ['/ümlaut/ok', '/%C3%BCmlaut/ok'],
  ['/emoji/😀', '/emoji/%F0%9F%98%80'],
  ['/a%20b', '/a%20b'],
  ['/100%', '/100%25'],
  ['/%zz', '/%25zz'],
  ['/a#b', '/a%23b'],
  ['/a b', '/a%20b'],
  ['/q?x=1&y=日', '/q?x=1&y=%E6%97%A5'],
  ["/keep-._~!$&'()*+,;=:@", "/keep-._~!$&'()*+,;=:@"],
  ['/"quoted"<>', '/%22quoted%22%3C%3E'],
  ['/\ud800x', '/%EF%BF%BDx'],
];
for (const [path, wire] of rows) {
  test(`${JSON.stringify(path)} → ${wire}`, () => {
    assert.is(encodeRequestPath(path), wire);
    assert.is(encodeRequestPath(wire), wire, 'encoding twice changes nothing');
  });
}

test.run();
