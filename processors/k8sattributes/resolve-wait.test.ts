/**
 * Flows whose source is not known yet (static inventory): held for
 * resolve_wait and resolved again when the inventory changes, placed by pod
 * CIDR after the wait, bounded in records and memory, flushed at shutdown,
 * always with their exact bytes and the interval they were counted in.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { READ_ONLY, type FlowConsumer } from '../../pipeline/component.ts';
import type { FlowBatch, FlowRecord } from '../../pipeline/flow.ts';
import { capturedLogger, configProblems, meteredSettings, testSettings } from '../../test/support/components.ts';
import { flow, harness, known } from '../../test/support/k8sattributes.ts';
import { eventually } from '../../test/support/poll.ts';
import { replayReceiverFactory } from '../../receivers/replay/index.ts';
import { flowlogExporterFactory } from '../../exporters/flowlog/index.ts';
import { configSchema } from './config.ts';
import { k8sattributesProcessorFactory } from './factory.ts';
import { K8sAttributesProcessor } from './processor.ts';

const dir = mkdtempSync(join(tmpdir(), 'zt-k8sattr-wait-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** node-a (zone-a) and node-b (zone-b) with pod CIDRs; db-0 on node-b; `extra` pods appended. */
function inventoryText(extra = ''): string {
  return `nodes:
  - { name: node-a, zone: zone-a, region: region-1, addresses: [192.168.50.1], podCIDRs: [10.1.0.0/24, "fd01:0:0:1::/64"] }
  - { name: node-b, zone: zone-b, region: region-1, addresses: [192.168.50.2], podCIDRs: [10.2.0.0/24] }
pods:
  - { namespace: shop, name: db-0, workload: { kind: StatefulSet, name: db }, node: node-b, addresses: [10.2.0.7] }
${extra}`;
}

let files = 0;
function inventoryFile(): string {
  const file = join(dir, `inventory-${files++}.yaml`);
  writeFileSync(file, inventoryText());
  return file;
}

/** Rewrites the inventory as a ConfigMap update would (write aside, rename over) and waits for the processor to load it. */
async function publish(processor: K8sAttributesProcessor, file: string, extra: string): Promise<void> {
  const reloaded = new Promise<void>((resolve) => (processor.staticSource!.onReload = () => resolve()));
  writeFileSync(`${file}.new`, inventoryText(extra));
  renameSync(`${file}.new`, file);
  await reloaded;
}

const reportPod = '  - { namespace: batch, name: report-29001-x7k2p, workload: { kind: CronJob, name: report }, node: node-a, addresses: [10.1.0.50] }\n';

test('a flow from a pod not yet in the inventory is held, then attributed when the pod appears, in a batch with its own interval', async () => {
  const file = inventoryFile();
  const h = harness({ source: 'static', inventory: file, node_name: 'node-a', resolve_wait: '1m' });
  await h.processor.start();
  try {
    await h.processor.consume({ start: 1000, end: 2000, records: [flow('10.1.0.50', '10.2.0.7', 1500), flow('192.168.50.1', '10.2.0.7', 60)] });
    assert.deepEqual(h.out.batches.map((b) => [b.start, b.end, b.records.map((r) => r.bytes)]), [[1000, 2000, [60]]], 'the node\'s own flow passes; the unknown one waits');
    assert.equal(h.processor.heldRecords, 1);
    await publish(h.processor, file, reportPod);
    // No new batch needed: the processor retries what it holds when the inventory changes.
    const late = await eventually(() => h.out.batches.find((b) => b.records.some((r) => r.bytes === 1500)) ?? assert.fail('not passed on yet'));
    assert.deepEqual([late.start, late.end], [1000, 2000], 'the interval it was counted in');
    assert.deepEqual(known(late.records[0]!.src), {
      address: '10.1.0.50', port: 40000, namespace: 'batch', pod: 'report-29001-x7k2p', workloadKind: 'CronJob', workloadName: 'report', node: 'node-a', zone: 'zone-a', region: 'region-1', hostNetwork: false,
    });
    assert.equal(late.records[0]!.dst.pod, 'db-0');
    assert.equal(h.processor.heldRecords, 0);
    assert.deepEqual([h.processor.stats.heldRecords, h.processor.stats.lateResolvedRecords, h.processor.stats.unresolvedAfterWaitRecords], [1, 1, 0]);
  } finally {
    await h.processor.shutdown();
  }
});

test('after resolve_wait, a source nobody claims is placed by pod CIDR: this node\'s is kept with its zone, another node\'s is left to it, none keeps its address; bytes exact', async () => {
  const agent = harness({ source: 'static', inventory: inventoryFile(), node_name: 'node-a', resolve_wait: '200ms' });
  const gateway = harness({ source: 'static', inventory: inventoryFile(), resolve_wait: '200ms' });
  await agent.processor.start();
  await gateway.processor.start();
  try {
    const records = () => [flow('10.1.0.99', '10.2.0.7', 1111), flow('10.2.0.99', '10.2.0.7', 2222), flow('198.51.100.7', '10.2.0.7', 3333), flow('fd01:0:0:1::99', '10.2.0.7', 4444)];
    await agent.processor.consume({ start: 5000, end: 6000, records: records() });
    await gateway.processor.consume({ start: 5000, end: 6000, records: records() });
    const left = (h: typeof agent) => eventually(() => (h.processor.heldRecords === 0 && h.out.batches.length === 2 ? h.out.batches[1]! : assert.fail('still held')));
    const fromAgent = await left(agent);
    assert.deepEqual([fromAgent.start, fromAgent.end], [5000, 6000]);
    assert.deepEqual(fromAgent.records.map((r) => [r.bytes, known(r.src)]), [
      [1111, { address: '10.1.0.99', port: 40000, zone: 'zone-a', region: 'region-1' }],
      [3333, { address: '198.51.100.7', port: 40000 }],
      [4444, { address: 'fd01:0:0:1::99', port: 40000, zone: 'zone-a', region: 'region-1' }],
    ]);
    const st = agent.processor.stats;
    assert.deepEqual([st.droppedForwardedFlows, st.droppedForwardedBytes], [1, 2222], 'in node-b\'s pod CIDR: node-b\'s agent counts it');
    assert.deepEqual([st.heldRecords, st.unresolvedAfterWaitRecords, st.lateResolvedRecords, st.unresolvedSrcBytes], [4, 4, 0, 1111 + 3333 + 4444]);
    const fromGateway = await left(gateway);
    assert.deepEqual(fromGateway.records.map((r) => [r.bytes, r.src.zone]), [[1111, 'zone-a'], [2222, 'zone-b'], [3333, undefined], [4444, 'zone-a']]);
  } finally {
    await agent.processor.shutdown();
    await gateway.processor.shutdown();
  }
});

test('records an agent already named are not held again downstream (a gateway keeps what the agent said)', async () => {
  const h = harness({ source: 'static', inventory: inventoryFile() });
  await h.processor.start();
  try {
    const named: FlowRecord = { ...flow('10.9.0.5', '10.2.0.7', 10), src: { address: '10.9.0.5', port: 1, namespace: 'shop', pod: 'web-1', workloadKind: 'Deployment', workloadName: 'web', zone: 'zone-c' } };
    await h.processor.consume({ start: 0, end: 1, records: [named] });
    assert.equal(h.processor.heldRecords, 0);
    assert.deepEqual(known(h.out.records[0]!.src), { address: '10.9.0.5', port: 1, namespace: 'shop', pod: 'web-1', workloadKind: 'Deployment', workloadName: 'web', zone: 'zone-c' });
  } finally {
    await h.processor.shutdown();
  }
});

test('the hold is bounded by max_held_records: past it a record is decided at once and counted; nothing is lost', async () => {
  const h = harness({ source: 'static', inventory: inventoryFile(), max_held_records: 3, resolve_wait: '1m' });
  await h.processor.start();
  const sent = Array.from({ length: 10 }, (_, i) => flow(`198.51.100.${i + 1}`, '10.2.0.7', 1000 + i));
  await h.processor.consume({ start: 0, end: 1, records: sent.map((r) => ({ ...r })) });
  assert.equal(h.processor.heldRecords, 3);
  assert.equal(h.out.records.length, 7, 'decided at once: their addresses are no pod\'s');
  assert.deepEqual([h.processor.stats.heldRecords, h.processor.stats.notHeldRecords], [3, 7]);
  await h.processor.shutdown();
  assert.deepEqual(
    h.out.records.map((r) => r.bytes).sort(),
    sent.map((r) => r.bytes),
    'the held ones leave at shutdown: every byte passed on once',
  );
});

test('the hold is bounded in memory: max_held_memory_mib caps the estimate, and the heap grows by no more than the bound', async () => {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  /** Counts what it is given and keeps nothing, so the heap holds only what the processor holds. */
  class Tally implements FlowConsumer {
    readonly capabilities = READ_ONLY;
    bytes = 0;
    records = 0;
    async consume(batch: FlowBatch): Promise<void> {
      for (const r of batch.records) this.bytes += r.bytes;
      this.records += batch.records.length;
    }
  }
  const out = new Tally();
  const limitMiB = 4;
  const processor = new K8sAttributesProcessor(testSettings('k8sattributes', 'processor'), configSchema.parse({ source: 'static', inventory: inventoryFile(), max_held_memory_mib: limitMiB, resolve_wait: '1m' }), out);
  await processor.start();
  gc();
  const heapBefore = process.memoryUsage().heapUsed;
  let sentBytes = 0;
  let sentRecords = 0;
  // 100,000 records from addresses no pod has, in batches as a receiver sends them: ~25 MB if all were held.
  for (let b = 0; b < 20; b++) {
    const records: FlowRecord[] = [];
    for (let i = 0; i < 5000; i++) {
      const n = b * 5000 + i;
      records.push(flow(`172.16.${n >> 8}.${n & 255}`, `fd00:ab::${n.toString(16)}`, n + 1));
      sentBytes += n + 1;
      sentRecords++;
    }
    await processor.consume({ start: b, end: b + 1, records });
  }
  gc();
  const grown = process.memoryUsage().heapUsed - heapBefore;
  const limit = limitMiB * 1024 * 1024;
  assert.ok(processor.heldBytes <= limit, `estimate ${processor.heldBytes} within ${limit}`);
  assert.ok(processor.heldRecords > 1000 && processor.heldRecords < sentRecords, `held ${processor.heldRecords}`);
  assert.ok(grown < 1.5 * limit, `heap grew ${(grown / 2 ** 20).toFixed(1)} MiB while at most ${limitMiB} MiB is held by the estimate`);
  assert.equal(processor.stats.notHeldRecords, sentRecords - processor.heldRecords);
  await processor.shutdown();
  assert.deepEqual([out.records, out.bytes], [sentRecords, sentBytes], 'every record passed on once, with its bytes');
});

test('shutdown passes on what is held: resolved when it can be now, unresolved otherwise, in its own interval', async () => {
  const file = inventoryFile();
  const h = harness({ source: 'static', inventory: file, node_name: 'node-a', resolve_wait: '1m' });
  await h.processor.start();
  await h.processor.consume({ start: 7000, end: 8000, records: [flow('10.1.0.50', '10.2.0.7', 700), flow('10.1.0.51', '10.2.0.7', 800)] });
  assert.equal(h.processor.heldRecords, 2);
  // The inventory changes, and shutdown comes before the sweep retries: the flush resolves it.
  await publish(h.processor, file, reportPod);
  await h.processor.shutdown({ signal: new AbortController().signal, deadline: Date.now() + 10_000 });
  assert.deepEqual(
    h.out.batches.filter((b) => b.records.length > 0).map((b) => [b.start, b.end, b.records.map((r) => [r.bytes, r.src.pod, r.src.zone])]),
    [[7000, 8000, [[700, 'report-29001-x7k2p', 'zone-a'], [800, undefined, 'zone-a']]]],
  );
});

test('shutdown stops waiting for a stuck consumer at its deadline, and says so', async () => {
  const { logger, lines: logs } = capturedLogger('error');
  const stuck: FlowConsumer = { capabilities: READ_ONLY, consume: () => new Promise<void>(() => {}) };
  const processor = new K8sAttributesProcessor({ ...testSettings('k8sattributes', 'processor'), logger }, configSchema.parse({ source: 'static', inventory: inventoryFile(), resolve_wait: '1m' }), stuck);
  await processor.start();
  void processor.consume({ start: 0, end: 1, records: [flow('198.51.100.1', '10.2.0.7', 5)] });
  const deadline = new AbortController();
  const done = processor.shutdown({ signal: deadline.signal, deadline: Date.now() + 100 });
  deadline.abort();
  await done;
  assert.match(logs.join(''), /the shutdown deadline passed while held flows were being passed on/);
});

test('self-telemetry: held, not held, late-resolved and unresolved-after-wait records, the hold now, dropped bytes; labelled component_id', async () => {
  const { settings, collect } = meteredSettings('k8sattributes', 'processor');
  const file = inventoryFile();
  // Long enough that the inventory change lands within the wait, even on a loaded machine.
  const h = harness({ source: 'static', inventory: file, node_name: 'node-a', resolve_wait: '3s', max_held_records: 3 }, undefined, settings.meter);
  await h.processor.start();
  try {
    await h.processor.consume({ start: 0, end: 1, records: [flow('10.1.0.50', '10.2.0.7', 1), flow('10.2.0.60', '10.2.0.7', 20), flow('10.1.0.70', '10.2.0.7', 3), flow('10.1.0.80', '10.2.0.7', 4)] });
    const points = async (name: string) => (await collect()).find((m) => m.descriptor.name === name)?.dataPoints.map((p) => [p.attributes, p.value]) ?? [];
    const id = { component_id: 'k8sattributes' }; // the harness's component id
    assert.deepEqual(await points('zonetap.processor.k8sattributes.held'), [[id, 3]]);
    assert.ok(((await points('zonetap.processor.k8sattributes.held.memory.bytes'))[0]![1] as number) > 0);
    assert.deepEqual(await points('zonetap.processor.k8sattributes.not_held.records'), [[id, 1]]);
    await publish(h.processor, file, reportPod);
    await eventually(() => assert.equal(h.processor.heldRecords, 0));
    assert.deepEqual(await points('zonetap.processor.k8sattributes.held.records'), [[id, 3]]);
    assert.deepEqual(await points('zonetap.processor.k8sattributes.late_resolved.records'), [[id, 1]]);
    assert.deepEqual(await points('zonetap.processor.k8sattributes.unresolved_after_wait.records'), [[id, 2]]);
    assert.deepEqual(await points('zonetap.processor.k8sattributes.dropped.bytes'), [[{ ...id, reason: 'forwarded' }, 20]]);
    assert.deepEqual(await points('zonetap.processor.k8sattributes.held'), [[id, 0]]);
  } finally {
    await h.processor.shutdown();
  }
});

test('config: resolve_wait, the hold\'s bounds and unhealthy_after are checked, with where and why', async () => {
  const file = join(import.meta.dirname, 'testdata/bad-resolve-wait.yaml');
  assert.deepEqual(await configProblems([file], [replayReceiverFactory, k8sattributesProcessorFactory, flowlogExporterFactory], { FLOWS: join(import.meta.dirname, '../../receivers/replay/testdata/flows.jsonl') }), [
    `${file}:6:5: processors::k8sattributes::resolve_wait: resolve_wait must not be longer than pod_delete_grace: a short-lived pod deleted right after its flows must still resolve when they are resolved again`,
    `${file}:9:5: processors::k8sattributes/long::resolve_wait: resolve_wait must be at most 10m: held flows wait in memory and reach the exporters that much later`,
    `${file}:11:5: processors::k8sattributes/bounds::max_held_records: max_held_records must not be negative`,
    `${file}:12:5: processors::k8sattributes/bounds::max_held_memory_mib: expected a number of MiB, like 32, got string "lots"`,
    `${file}:14:5: processors::k8sattributes/health::unhealthy_after: unhealthy_after must be at least 1s: watches are reopened every unhealthy_after/2`,
  ]);
});

test('the inventory refuses pod CIDRs of two nodes that overlap, with both places', async () => {
  const { readInventory } = await import('./inventory.ts');
  const file = join(import.meta.dirname, 'testdata/overlapping-pod-cidrs.yaml');
  assert.throws(() => readInventory(file), {
    message: `invalid inventory ${file}:\n  ${file}:7:29: nodes[1].podCIDRs[1]: pod CIDR 10.1.0.128/25 of node node-b overlaps 10.1.0.0/24 of node node-a (nodes[0].podCIDRs[0] at line 4:16)`,
  });
});
