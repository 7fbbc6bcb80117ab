import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FlowStore, seriesKey } from './flowstore.ts';

const overflowAttributes = { overflow: 'true' };

test('seriesKey does not depend on property order, and differs for different sets', () => {
  assert.equal(seriesKey({ a: '1', b: 2 }), seriesKey({ b: 2, a: '1' }));
  assert.notEqual(seriesKey({ a: '1', b: 2 }), seriesKey({ a: '1' }));
  assert.notEqual(seriesKey({ a: '1b' }), seriesKey({ a: '1', b: '' }));
});

test('adds deltas into cumulative totals per attribute set, with first-seen and last-updated', () => {
  const store = new FlowStore({ ttlMs: 1000, maxSeries: 10, overflowAttributes });
  assert.equal(store.add({ a: 'x' }, 100, 2, undefined, 1000), 'created');
  assert.equal(store.add({ a: 'x' }, 50, 1, 0.5, 1500), 'updated');
  assert.equal(store.add({ a: 'y' }, 7, 1, undefined, 1600), 'created');
  const [x, y] = [...store.series()];
  assert.deepEqual({ ...x }, { key: seriesKey({ a: 'x' }), attributes: { a: 'x' }, bytes: 150, packets: 3, costUsd: 0.5, startTime: 1000, lastUpdated: 1500, updates: 2 });
  assert.equal(y!.costUsd, undefined);
  assert.equal(store.size, 2);
});

test('expire() removes series not updated for ttl and keeps the others', () => {
  const store = new FlowStore({ ttlMs: 1000, maxSeries: 10, overflowAttributes });
  store.add({ a: 'old' }, 1, 1, undefined, 0);
  store.add({ a: 'new' }, 1, 1, undefined, 900);
  assert.equal(store.expire(1000), 0, 'exactly ttl old is still alive');
  assert.equal(store.expire(1001), 1);
  assert.deepEqual([...store.series()].map((s) => s.attributes.a), ['new']);
  assert.equal(store.expiredSeries, 1);
  // A series that comes back starts a new cumulative run.
  store.add({ a: 'old' }, 5, 1, undefined, 1100);
  const back = [...store.series()].find((s) => s.attributes.a === 'old')!;
  assert.equal(back.bytes, 5);
  assert.equal(back.startTime, 1100);
});

test('past maxSeries, new attribute sets go to one overflow series: totals are conserved and counted', () => {
  const store = new FlowStore({ ttlMs: 1000, maxSeries: 2, overflowAttributes });
  store.add({ p: '1' }, 10, 1, undefined, 0);
  store.add({ p: '2' }, 20, 1, undefined, 0);
  assert.equal(store.add({ p: '3' }, 30, 1, undefined, 0), 'overflow');
  assert.equal(store.add({ p: '4' }, 40, 1, undefined, 0), 'overflow');
  assert.equal(store.add({ p: '1' }, 1, 1, undefined, 0), 'updated', 'known sets still update');
  assert.equal(store.size, 2);
  assert.deepEqual(store.overflowSeries?.attributes, overflowAttributes);
  assert.equal(store.overflowSeries?.bytes, 70);
  assert.equal(store.overflowRecords, 2);
  const total = [...store.series()].reduce((sum, s) => sum + s.bytes, 0);
  assert.equal(total, 10 + 20 + 30 + 40 + 1);
  // Once series expire there is room again, and the idle overflow series goes too.
  assert.equal(store.expire(5000), 3);
  assert.equal(store.add({ p: '3' }, 1, 1, undefined, 5000), 'created');
  assert.equal(store.overflowSeries, undefined);
});

test('rejects options that cannot work', () => {
  assert.throws(() => new FlowStore({ ttlMs: 0, maxSeries: 1, overflowAttributes }), /ttlMs must be positive/);
  assert.throws(() => new FlowStore({ ttlMs: 1, maxSeries: 0, overflowAttributes }), /maxSeries must be a positive integer/);
});
