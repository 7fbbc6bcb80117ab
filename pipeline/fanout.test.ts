/** Fan-out as the Collector does it: who shares the batch, who gets a clone, and what the fan-out itself declares. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MUTATES_DATA, READ_ONLY, type Capabilities, type FlowConsumer } from './component.ts';
import { fanout } from './fanout.ts';
import type { FlowBatch } from './flow.ts';

function recorder(capabilities: Capabilities): FlowConsumer & { seen: FlowBatch[] } {
  const seen: FlowBatch[] = [];
  return { capabilities, seen, async consume(batch) { seen.push(batch); } };
}

const batch = (): FlowBatch => ({ start: 0, end: 1, records: [{ src: { address: '10.0.0.1', port: 1 }, dst: { address: '10.0.0.2', port: 2 }, transport: 'tcp', ipFamily: 'ipv4', bytes: 1, packets: 1 }] });

test('one consumer is used as it is, capabilities included', () => {
  const only = recorder(MUTATES_DATA);
  assert.equal(fanout([only]), only);
});

test('read-only consumers share the original; a mutating one beside them gets a clone, so the fan-out changes nothing it is given', async () => {
  const [a, b, m] = [recorder(READ_ONLY), recorder(READ_ONLY), recorder(MUTATES_DATA)];
  const f = fanout([a, m, b]);
  assert.equal(f.capabilities.mutatesData, false, 'an upstream fan-out need not clone for this one');
  const sent = batch();
  await f.consume(sent);
  assert.equal(a.seen[0], sent);
  assert.equal(b.seen[0], sent);
  assert.notEqual(m.seen[0], sent);
  assert.deepEqual(m.seen[0], sent);
});

test('without read-only consumers the last mutating one takes the original, and the fan-out says it mutates', async () => {
  const [m1, m2] = [recorder(MUTATES_DATA), recorder(MUTATES_DATA)];
  const f = fanout([m1, m2]);
  assert.equal(f.capabilities.mutatesData, true);
  const sent = batch();
  await f.consume(sent);
  assert.notEqual(m1.seen[0], sent);
  assert.equal(m2.seen[0], sent);
});

test('only read-only consumers: nothing is cloned and nothing mutates', async () => {
  const [a, b] = [recorder(READ_ONLY), recorder(READ_ONLY)];
  const f = fanout([a, b]);
  assert.equal(f.capabilities.mutatesData, false);
  const sent = batch();
  await f.consume(sent);
  assert.equal(a.seen[0], sent);
  assert.equal(b.seen[0], sent);
});

test('every consumer gets the batch even when one fails; one failure is rethrown as it is, several as an AggregateError', async () => {
  const ok = recorder(READ_ONLY);
  const failing = (message: string): FlowConsumer => ({ capabilities: READ_ONLY, consume: () => Promise.reject(new Error(message)) });
  await assert.rejects(fanout([failing('down'), ok]).consume(batch()), /^Error: down$/);
  assert.equal(ok.seen.length, 1);
  await assert.rejects(fanout([failing('a'), failing('b')]).consume(batch()), (err: unknown) => err instanceof AggregateError && err.errors.length === 2);
});
