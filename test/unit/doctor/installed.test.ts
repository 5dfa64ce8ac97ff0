/** Definition drift between the installed job and what install would write now. */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { diffDefinitions } from '../../../src/doctor/installed.js';

const units = suite('doctor: definition drift');

units('definition drift: one line per differing key', () => {
  assert.equal(
    diffDefinitions(
      { A: 1, Env: { X: 'a', Y: 'b' }, Args: ['n', 't'] },
      { A: 1, Env: { X: 'a' }, Args: ['m', 't'], K: true },
    ),
    ['Env.Y: b → (none)', 'Args: n t → m t', 'K: (none) → true'],
  );
});

units.run();
