/**
 * Metrics (DESIGN §11): --metrics-dir (or LOCALHOST_OPS_METRICS_DIR at install) makes every
 * sync, the sync agent's included, write localhost_ops_<name>.prom atomically, in a text
 * format a strict parser accepts.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { e2e } from '../../helpers/e2e.js';
import { waitFor } from '../../helpers/fixture.js';
import { getFreePort } from '../../helpers/proc.js';
import { parsePromText, type Family } from '../../unit/manage/prom-text.js';

const metrics = suite('manage: metrics');

function read(dir: string, name: string): Map<string, Family> {
  return parsePromText(readFileSync(join(dir, `localhost_ops_${name}.prom`), 'utf8'));
}

const value = (f: Map<string, Family>, name: string) => f.get(name)?.samples[0];

e2e(
  metrics,
  'two sites write their .prom files after every sync: the flag, the environment, the sync agent, a held-back main',
  async (fx) => {
    const dir = join(fx.root, 'textfile');
    const r1 = await fx.cli(fx.installArgs({ name: 'site', 'metrics-dir': dir }));
    assert.is(r1.code, 0, r1.stdout + r1.stderr);
    const port = await getFreePort();
    const r2 = await fx.cli(fx.installArgs({ name: 'other', port: String(port) }), {
      LOCALHOST_OPS_METRICS_DIR: dir,
    });
    assert.is(r2.code, 0, r2.stdout + r2.stderr);
    // The sync agents' own first syncs (noop) rewrite the files: the jobs know the folder too.
    for (const name of ['site', 'other']) {
      await fx.waitForSyncs(2, name);
      await waitFor(
        () => {
          try {
            return value(read(dir, name), 'localhost_ops_up')?.labels.status === 'noop';
          } catch {
            return false;
          }
        },
        10_000,
        `${name}'s agent to write its metrics`,
      );
    }
    assert.equal(readdirSync(dir).sort(), ['localhost_ops_other.prom', 'localhost_ops_site.prom']);
    const ok = read(dir, 'site');
    assert.is(value(ok, 'localhost_ops_up')?.value, 1);
    assert.is(value(ok, 'localhost_ops_held_back')?.value, 0);
    assert.is(value(ok, 'localhost_ops_served_info')?.labels.sha, fx.record('site')?.sha);
    const success = value(ok, 'localhost_ops_last_success_timestamp_seconds')?.value as number;
    assert.ok(Math.abs(success - Date.now() / 1000) < 120, String(success));
    for (const f of ok.values()) {
      for (const s of f.samples) {
        assert.is(s.labels.site, 'site');
        assert.is(s.timestamp, null);
      }
    }

    await new Promise((r) => setTimeout(r, 1100));
    await fx.push({ CRASH: 'yes\n' });
    const sync = await fx.cli(['sync', '--name', 'site', '--json']);
    assert.is(sync.code, 1, sync.stdout);
    const held = read(dir, 'site');
    assert.is(value(held, 'localhost_ops_up')?.value, 0);
    assert.is(value(held, 'localhost_ops_up')?.labels.status, 'rolled-back');
    assert.is(value(held, 'localhost_ops_held_back')?.value, 1);
    assert.is(value(held, 'localhost_ops_last_success_timestamp_seconds')?.value, success);
    assert.ok((value(held, 'localhost_ops_last_sync_timestamp_seconds')?.value as number) > success);
    // Written through a temp file and a rename: nothing else is left in the folder.
    assert.equal(readdirSync(dir).sort(), ['localhost_ops_other.prom', 'localhost_ops_site.prom']);
  },
  { timeoutMs: 240_000 },
);

metrics.run();
