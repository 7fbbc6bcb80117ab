import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ColumnBatch, classCode, classOf, cloneBatch, columnsFromRecords, columnsToRecords, keepRows, newColumns, transportCode } from './columns.ts';
import { OVERFLOW_TRANSPORT, TRAFFIC_CLASSES, flowCount, type FlowRecord } from './flow.ts';

const records: FlowRecord[] = [
  { src: { address: '10.0.0.1', port: 43122 }, dst: { address: '10.0.1.7', port: 5432, namespace: 'db', zone: 'b' }, transport: 'tcp', ipFamily: 'ipv4', bytes: 1500, packets: 3 },
  { src: { address: '10.0.0.1', port: 43123 }, dst: { address: '10.0.1.7', port: 5432, namespace: 'db', zone: 'b' }, transport: 'tcp', ipFamily: 'ipv4', bytes: 60, packets: 1, trafficClass: 'cross_zone' },
  { src: { address: 'fd00::1', port: 53 }, dst: { address: 'fd00::2', port: 0 }, transport: 'udp', ipFamily: 'ipv6', bytes: 2 ** 40, packets: 7, ignored: true },
  { src: { address: '', port: 0 }, dst: { address: '', port: 0 }, transport: OVERFLOW_TRANSPORT, ipFamily: 'ipv4', bytes: 9, packets: 1 },
];

test('records -> columns -> records gives the records back, with one end per distinct endpoint', () => {
  const c = columnsFromRecords(records);
  assert.equal(c.length, 4);
  // 10.0.0.1 (both source ports), 10.0.1.7 (named), fd00::1, fd00::2, the overflow end ''.
  assert.equal(c.ends.length, 5);
  assert.ok(c.ends.every((e) => e.port === 0 && Object.isFrozen(e)));
  assert.deepEqual(c.transports, ['tcp', 'udp', OVERFLOW_TRANSPORT]);
  assert.deepEqual(columnsToRecords(c), records);
});

test('a row whose port is its end\'s shares the end object; another port gets a copy', () => {
  const c = columnsFromRecords(records);
  const out = columnsToRecords(c);
  assert.equal(out[2]!.dst, c.ends[c.dst[2]!]);
  assert.notEqual(out[0]!.src, c.ends[c.src[0]!]);
});

test('class codes cover every traffic class and none', () => {
  assert.equal(classCode(undefined), 0);
  for (const cls of TRAFFIC_CLASSES) assert.equal(classOf(classCode(cls)), cls);
});

test('keepRows keeps the marked rows in order and counts the dropped', () => {
  const c = columnsFromRecords(records);
  assert.equal(keepRows(c, Uint8Array.of(0, 1, 0, 1)), 2);
  assert.deepEqual(columnsToRecords(c), [records[1], records[3]]);
});

test('a ColumnBatch reads as records once; assigning records drops the columns', () => {
  const batch = new ColumnBatch(1, 2, columnsFromRecords(records));
  assert.equal(flowCount(batch), 4);
  assert.ok(batch.columns !== undefined);
  const first = batch.records;
  assert.equal(batch.columns, undefined);
  assert.equal(batch.records, first);
  first.length = 1;
  assert.equal(flowCount(batch), 1);
  const other = new ColumnBatch(1, 2, columnsFromRecords(records));
  other.records = [];
  assert.equal(other.columns, undefined);
  assert.equal(flowCount(other), 0);
});

test('cloneBatch keeps columns as columns, and a change to the clone leaves the original', () => {
  const batch = new ColumnBatch(1, 2, columnsFromRecords(records));
  const copy = cloneBatch(batch);
  assert.ok(copy.columns !== undefined && copy.columns !== batch.columns);
  copy.columns.bytes[0] = 1;
  keepRows(copy.columns, Uint8Array.of(1, 0, 0, 0));
  assert.equal(batch.columns!.length, 4);
  assert.equal(batch.columns!.bytes[0], 1500);
  assert.deepEqual(batch.records, records);
});

test('transport numbers: added in order, at most 256 per batch', () => {
  const c = newColumns(0);
  assert.equal(transportCode(c, 'tcp'), 0);
  assert.equal(transportCode(c, 'udp'), 1);
  assert.equal(transportCode(c, 'tcp'), 0);
  for (let p = 2; p < 256; p++) transportCode(c, String(p));
  assert.throws(() => transportCode(c, 'one more'), /at most 256 transports/);
});

test('columns refuse records that carry a cost', () => {
  assert.throws(() => columnsFromRecords([{ ...records[0]!, costUsd: 1 }]), /columns carry no cost/);
});
