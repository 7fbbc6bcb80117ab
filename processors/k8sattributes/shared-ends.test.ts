/**
 * Destination ends shared within a pass (shared-ends.ts): records to the same
 * pod, port and Service get one end object, which is exactly the end the
 * record would have had on its own; nothing is shared across passes (the
 * directory changes in between) or when an upstream hop named the end.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { flow, harness, known } from '../../test/support/k8sattributes.ts';
import type { FlowRecord } from '../../pipeline/flow.ts';

const dir = mkdtempSync(join(tmpdir(), 'zt-k8sattr-shared-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const inventory = join(dir, 'inventory.yaml');
writeFileSync(
  inventory,
  `nodes:
  - { name: node-a, zone: zone-a, region: region-1, addresses: [192.168.50.1] }
  - { name: node-b, addresses: [192.168.50.2] }
pods:
  - { namespace: shop, name: api-1, workload: { kind: Deployment, name: api }, node: node-a, addresses: [10.1.0.5] }
  - { namespace: shop, name: db-0, workload: { kind: StatefulSet, name: db }, node: node-a, addresses: [10.1.0.7] }
  - { namespace: shop, name: cache-0, workload: { kind: StatefulSet, name: cache }, node: node-b, addresses: [10.2.0.9] }
`,
);

const to = (dst: string, port: number, from = '10.1.0.5'): FlowRecord => ({ ...flow(from, dst), dst: { address: dst, port } });

/** SharedEnds is the records path's: columns share an end by its number (columns.test.ts). */
const RECORDS = { columns: false };

test('records to one pod and port share their destination end, which is the end each would have had alone', async () => {
  const h = harness({ source: 'static', inventory }, RECORDS);
  await h.processor.start();
  try {
    await h.processor.consume({ start: 0, end: 1, records: [to('10.1.0.7', 5432), to('10.1.0.7', 5432, '192.168.50.1'), to('10.1.0.7', 6379), to('10.1.0.5', 5432, '10.1.0.7')] });
    const [a, b, otherPort, otherPod] = h.out.batches.at(-1)!.records;
    assert.equal(a!.dst, b!.dst, 'same pod, same port: one object');
    assert.notEqual(a!.dst, otherPort!.dst);
    assert.notEqual(a!.dst, otherPod!.dst);
    const db = { address: '10.1.0.7', namespace: 'shop', pod: 'db-0', workloadKind: 'StatefulSet', workloadName: 'db', node: 'node-a', zone: 'zone-a', region: 'region-1', hostNetwork: false };
    assert.deepEqual(known(a!.dst), { ...db, port: 5432 });
    assert.deepEqual(known(otherPort!.dst), { ...db, port: 6379 });
    // Each record alone, in a batch of its own, names its end the same way.
    await h.processor.consume({ start: 0, end: 1, records: [to('10.1.0.7', 6379)] });
    assert.deepEqual(h.out.batches.at(-1)!.records[0]!.dst, otherPort!.dst);
  } finally {
    await h.processor.shutdown();
  }
});

test('an end is not handed out again in a later pass: a node relabelled in between gives its pods the new zone', async () => {
  const h = harness({ source: 'static', inventory }, RECORDS);
  await h.processor.start();
  try {
    await h.processor.consume({ start: 0, end: 1, records: [to('10.1.0.7', 5432)] });
    const before = h.out.batches.at(-1)!.records[0]!.dst;
    h.processor.directory!.upsertNode('node-a', 'zone-c', 'region-1', ['192.168.50.1']);
    await h.processor.consume({ start: 1, end: 2, records: [to('10.1.0.7', 5432)] });
    const afterRelabel = h.out.batches.at(-1)!.records[0]!.dst;
    assert.equal(before.zone, 'zone-a');
    assert.equal(afterRelabel.zone, 'zone-c');
    assert.notEqual(afterRelabel, before);
  } finally {
    await h.processor.shutdown();
  }
});

test('ends an upstream hop named are not shared: each keeps the zone its agent gave where the directory has none', async () => {
  const h = harness({ source: 'static', inventory }, RECORDS);
  await h.processor.start();
  try {
    // cache-0 is on node-b, which has no zone here: the agents' zones stay.
    const named = (zone: string): FlowRecord => {
      const r = to('10.2.0.9', 11211);
      r.dst.zone = zone;
      return r;
    };
    await h.processor.consume({ start: 0, end: 1, records: [named('zone-a'), named('zone-b')] });
    const [a, b] = h.out.batches.at(-1)!.records;
    assert.equal(a!.dst.zone, 'zone-a');
    assert.equal(b!.dst.zone, 'zone-b');
    assert.equal(a!.dst.pod, 'cache-0');
  } finally {
    await h.processor.shutdown();
  }
});
