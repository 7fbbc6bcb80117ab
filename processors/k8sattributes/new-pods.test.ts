/**
 * New pods with source: kubernetes, against the fake API server: a pod's
 * first flows are drained before its object reaches the agent. They are
 * held, and attributed when the pod appears; a short-lived Job pod that is
 * created and deleted after its flows still gets them; a source that never
 * resolves is placed by the nodes' spec.podCIDRs, or dropped with its bytes
 * counted when locality cannot be told.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeKubeApiServer, makeJob, makeNode, makePod } from '../../test/kube-api/index.ts';
import { flow, harness, known, type Harness } from '../../test/support/k8sattributes.ts';
import { eventually } from '../../test/support/poll.ts';

let server: FakeKubeApiServer;
let dir: string;
let kubeconfig: string;
const running: Harness[] = [];

async function agent(config: Record<string, unknown>): Promise<Harness> {
  const h = harness({ kubeconfig, sync_timeout: '10s', ...config });
  running.push(h);
  await h.processor.start();
  assert.equal(h.processor.ready, true);
  return h;
}

/** The batch that carried `bytes`, once it has been passed on. */
const passedOn = (h: Harness, bytes: number) => eventually(() => h.out.batches.find((b) => b.records.some((r) => r.bytes === bytes)) ?? assert.fail(`${bytes} not passed on yet`));

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'zt-k8sattr-newpods-'));
  server = new FakeKubeApiServer({ bookmarkIntervalMs: 300 });
  await server.start();
  kubeconfig = server.writeKubeconfig(join(dir, 'kubeconfig'));
  const s = server.store;
  s.create('nodes', makeNode({ name: 'node-a', zone: 'zone-a', region: 'region-1', internalIPs: ['192.168.60.1'], podCIDRs: ['10.61.0.0/24', 'fd61::/64'] }));
  s.create('nodes', makeNode({ name: 'node-b', zone: 'zone-b', region: 'region-1', internalIPs: ['192.168.60.2'], podCIDRs: ['10.62.0.0/24'] }));
  // A node whose CNI allocates addresses itself: no spec.podCIDR.
  s.create('nodes', makeNode({ name: 'node-x', zone: 'zone-c', region: 'region-1', internalIPs: ['192.168.60.3'] }));
  s.create('jobs', makeJob('batch', 'report-29001', 'report'));
  s.create('pods', makePod({ namespace: 'shop', name: 'db-0', node: 'node-b', ips: ['10.62.0.7'], owner: { kind: 'StatefulSet', name: 'db' } }));
});

after(async () => {
  for (const h of running) await h.processor.shutdown();
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('a new pod\'s first-second traffic is attributed: its flows wait until its pod object appears, and keep their interval', async () => {
  const h = await agent({ node_name: 'node-a', resolve_wait: '1m' });
  // The pod's first second is drained before the API server has told the agent about the pod.
  await h.processor.consume({ start: 10_000, end: 11_000, records: [flow('10.61.0.40', '10.62.0.7', 4321), flow('fd61::40', '10.62.0.7', 1234)] });
  assert.equal(h.processor.heldRecords, 2);
  assert.equal(h.out.records.length, 0);
  server.store.create('pods', makePod({ namespace: 'shop', name: 'web-6b7c-q2x', node: 'node-a', ips: ['10.61.0.40', 'fd61::40'], owner: { kind: 'StatefulSet', name: 'web' } }));
  const late = await passedOn(h, 4321);
  assert.deepEqual([late.start, late.end], [10_000, 11_000]);
  assert.deepEqual(
    late.records.map((r) => [r.bytes, known(r.src), r.dst.pod]),
    [
      [4321, { address: '10.61.0.40', port: 40000, namespace: 'shop', pod: 'web-6b7c-q2x', workloadKind: 'StatefulSet', workloadName: 'web', node: 'node-a', zone: 'zone-a', region: 'region-1', hostNetwork: false }, 'db-0'],
      [1234, { address: 'fd61::40', port: 40000, namespace: 'shop', pod: 'web-6b7c-q2x', workloadKind: 'StatefulSet', workloadName: 'web', node: 'node-a', zone: 'zone-a', region: 'region-1', hostNetwork: false }, 'db-0'],
    ],
  );
  assert.deepEqual([h.processor.stats.heldRecords, h.processor.stats.lateResolvedRecords, h.processor.stats.droppedUnknownSourceFlows], [2, 2, 0]);
});

test('a short-lived Job pod created and deleted after its flows were drained still gets them', async () => {
  const h = await agent({ node_name: 'node-a', resolve_wait: '1m' });
  await h.processor.consume({ start: 20_000, end: 21_000, records: [flow('10.61.0.77', '10.62.0.7', 9000)] });
  assert.equal(h.processor.heldRecords, 1);
  server.store.create('pods', makePod({ namespace: 'batch', name: 'report-29001-zz9', node: 'node-a', ips: ['10.61.0.77'], owner: { kind: 'Job', name: 'report-29001' } }));
  server.store.delete('pods', 'batch', 'report-29001-zz9');
  const late = await passedOn(h, 9000);
  assert.deepEqual([late.records[0]!.src.pod, late.records[0]!.src.workloadKind, late.records[0]!.src.workloadName], ['report-29001-zz9', 'CronJob', 'report']);
});

test('a source that never resolves comes out after resolve_wait with its exact bytes, placed by the nodes\' spec.podCIDRs', async () => {
  const a = await agent({ node_name: 'node-a', resolve_wait: '300ms' });
  await a.processor.consume({ start: 30_000, end: 31_000, records: [flow('10.61.0.250', '10.62.0.7', 777), flow('10.62.0.250', '10.61.0.5', 888), flow('100.64.9.9', '10.62.0.7', 999)] });
  const out = await passedOn(a, 777);
  assert.deepEqual([out.start, out.end], [30_000, 31_000]);
  assert.deepEqual(out.records.map((r) => [r.bytes, known(r.src)]), [
    [777, { address: '10.61.0.250', port: 40000, zone: 'zone-a', region: 'region-1' }],
    [999, { address: '100.64.9.9', port: 40000 }],
  ]);
  const st = a.processor.stats;
  assert.deepEqual([st.unresolvedAfterWaitRecords, st.droppedForwardedFlows, st.droppedForwardedBytes, st.unresolvedSrcBytes], [3, 1, 888, 777 + 999]);
});

test('resolve: local on a node without pod CIDRs: a source that never resolves may be another node\'s pod, so it is dropped with its bytes counted', async () => {
  const x = await agent({ node_name: 'node-x', resolve: 'local', resolve_wait: '300ms' });
  await x.processor.consume({ start: 40_000, end: 41_000, records: [flow('10.99.0.1', '192.168.60.3', 555)] });
  await eventually(() => assert.equal(x.processor.heldRecords, 0));
  assert.deepEqual([x.processor.stats.droppedUnknownSourceFlows, x.processor.stats.droppedUnknownSourceBytes], [1, 555]);
  assert.equal(x.out.records.length, 0);
});
