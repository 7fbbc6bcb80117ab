/** What the demo checks before it builds anything. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { kernelVersion } from './preflight.ts';

test('kernel versions are read from the release string', () => {
  assert.deepEqual(kernelVersion('6.1.0-18-amd64'), [6, 1]);
  assert.deepEqual(kernelVersion('6.18.2'), [6, 18]);
  assert.deepEqual(kernelVersion('5.15.0-1057-aws'), [5, 15]);
  assert.equal(kernelVersion('unknown'), undefined);
});
