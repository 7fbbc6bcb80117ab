/**
 * Team and owner labels (README "Pod and namespace labels") and namespaces
 * that opt out (README "Opting out"), against the fake API server through the
 * real @kubernetes/client-node: chosen labels on both ends, the bound on
 * distinct values, label changes seen through watches, and the
 * `zonetap.io/ignore: "true"` annotation reducing ends without losing bytes.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeKubeApiServer, makeNamespace, makeNode, makePod } from '../../test/kube-api/index.ts';
import { harness, known, type Harness } from '../../test/support/k8sattributes.ts';
import { eventually } from '../../test/support/poll.ts';
import { flowlogExporterFactory } from '../../exporters/flowlog/index.ts';
import { replayReceiverFactory } from '../../receivers/replay/index.ts';
import { configProblems } from '../../test/support/components.ts';
import { k8sattributesProcessorFactory } from './factory.ts';

let server: FakeKubeApiServer;
let dir: string;
let h: Harness;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'zt-k8s-labels-'));
  server = new FakeKubeApiServer({ bookmarkIntervalMs: 300 });
  await server.start();
  const s = server.store;
  s.create('nodes', makeNode({ name: 'node-a', zone: 'zone-a', region: 'r1', internalIPs: ['192.168.61.1'] }));
  s.create('nodes', makeNode({ name: 'node-b', zone: 'zone-b', region: 'r1', internalIPs: ['192.168.61.2'] }));
  s.create('namespaces', makeNamespace({ name: 'shop', labels: { team: 'commerce', tier: 'prod' } }));
  s.create('namespaces', makeNamespace({ name: 'audit', labels: { team: 'security' }, annotations: { 'zonetap.io/ignore': 'true' } }));
  s.create('pods', makePod({ namespace: 'shop', name: 'web-0', node: 'node-a', ips: ['10.5.0.1'], labels: { team: 'web', 'app.kubernetes.io/name': 'storefront' } }));
  s.create('pods', makePod({ namespace: 'shop', name: 'cart-0', node: 'node-b', ips: ['10.5.0.2'], labels: { team: 'cart' } }));
  s.create('pods', makePod({ namespace: 'shop', name: 'zz-search-0', node: 'node-b', ips: ['10.5.0.3'], labels: { team: 'search' } }));
  s.create('pods', makePod({ namespace: 'shop', name: 'nolabel-0', node: 'node-b', ips: ['10.5.0.4'], labels: {} }));
  s.create('pods', makePod({ namespace: 'audit', name: 'scanner-0', node: 'node-a', ips: ['10.5.1.1'], labels: { app: 'scanner' } }));
  s.create('pods', makePod({ namespace: 'audit', name: 'scanner-1', node: 'node-a', ips: ['10.5.1.2'], labels: { app: 'scanner' } }));
  h = harness({
    kubeconfig: server.writeKubeconfig(join(dir, 'kubeconfig')),
    sync_timeout: '10s',
    max_held_records: 0,
    pod_labels: ['team', 'app.kubernetes.io/name'],
    namespace_labels: ['team'],
    max_label_values: 2,
  });
  await h.processor.start();
});

after(async () => {
  await h.processor.shutdown();
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('chosen pod and namespace labels on both ends; other labels are not copied', async () => {
  const [r] = await h.run(['10.5.0.1', '10.5.0.2']);
  assert.deepEqual(r!.src.podLabels, { team: 'web', 'app.kubernetes.io/name': 'storefront' });
  assert.deepEqual(r!.src.namespaceLabels, { team: 'commerce' }, 'tier is not in namespace_labels');
  assert.deepEqual(r!.dst.podLabels, { team: 'cart' });
  assert.deepEqual(r!.dst.namespaceLabels, { team: 'commerce' });
  const [unlabelled] = await h.run(['10.5.0.4', '10.5.0.1']);
  assert.equal(unlabelled!.src.podLabels, undefined, 'a pod with none of the chosen labels');
});

test('max_label_values: past the bound a label reads "other", counted; kept values stay', async () => {
  // team took "web" and "cart" (the first two values listed): "search" is the third.
  const [r] = await h.run(['10.5.0.3', '10.5.0.1']);
  assert.deepEqual(r!.src.podLabels, { team: 'other' });
  assert.deepEqual(r!.dst.podLabels, { team: 'web', 'app.kubernetes.io/name': 'storefront' });
  assert.ok((h.processor.stats.labelValuesOther['pod:team'] ?? 0) >= 1);
  // Every pod of one label set shares one object (memory, and aggregate's comparison by reference).
  const [a, b] = await h.run(['10.5.0.1', '10.5.0.2'], ['10.5.0.2', '10.5.0.1']);
  assert.equal(a!.src.podLabels, b!.dst.podLabels);
});

test('a namespace relabelled through the watch relabels its pods\' ends, within the bound', async () => {
  server.store.modify('namespaces', undefined, 'shop', (ns) => {
    ns.metadata.labels = { ...ns.metadata.labels, team: 'retail' };
  });
  // team already holds "commerce" and "security" (max_label_values: 2).
  await eventually(async () => {
    const [r] = await h.run(['10.5.0.1', '10.5.0.2']);
    assert.deepEqual(r!.src.namespaceLabels, { team: 'other' });
  });
  assert.ok((h.processor.stats.labelValuesOther['namespace:team'] ?? 0) >= 1);
  server.store.modify('namespaces', undefined, 'shop', (ns) => {
    ns.metadata.labels = { team: 'security' };
  });
  await eventually(async () => {
    const [r] = await h.run(['10.5.0.1', '10.5.0.2']);
    assert.deepEqual(r!.dst.namespaceLabels, { team: 'security' });
  });
});

test('zonetap.io/ignore: ends in the namespace keep namespace, namespace labels, zone and region only; the record is marked and nothing is lost', async () => {
  const rows = await h.run(['10.5.1.1', '10.5.0.2', 300], ['10.5.1.2', '10.5.0.2', 200], ['10.5.0.1', '10.5.1.1', 50]);
  assert.equal(rows.length, 3);
  assert.deepEqual(known(rows[0]!.src), { address: '', port: 0, namespace: 'audit', namespaceLabels: { team: 'security' }, zone: 'zone-a', region: 'r1' });
  assert.deepEqual(known(rows[1]!.src), known(rows[0]!.src), 'two pods of the namespace: one end, so their flows sum into one series');
  assert.equal(rows[0]!.dst.pod, 'cart-0', 'the other end, not in an ignored namespace, is named as usual');
  assert.deepEqual(rows.map((r) => r.ignored), [true, true, true]);
  assert.deepEqual(known(rows[2]!.dst), { address: '', port: 0, namespace: 'audit', namespaceLabels: { team: 'security' }, zone: 'zone-a', region: 'r1' }, 'a destination in the namespace too');
  assert.deepEqual(rows.map((r) => r.bytes), [300, 200, 50]);
  assert.equal(h.processor.stats.ignoredBytes, 550);
  const [named] = await h.run(['10.5.0.1', '10.5.0.2']);
  assert.notEqual(named!.ignored, true, 'not marked (false, or absent when the batch was columns)');
});

test('removing the annotation names the namespace\'s pods again', async () => {
  server.store.modify('namespaces', undefined, 'audit', (ns) => {
    ns.metadata.annotations = {};
  });
  await eventually(async () => {
    const [r] = await h.run(['10.5.1.1', '10.5.0.2']);
    assert.equal(r!.src.pod, 'scanner-0');
    assert.notEqual(r!.ignored, true);
  });
});

test('config: label keys are checked, and two keys that make one Prometheus label are refused, with where and why', async () => {
  const file = join(import.meta.dirname, 'testdata/bad-labels.yaml');
  assert.deepEqual(await configProblems([file], [replayReceiverFactory, k8sattributesProcessorFactory, flowlogExporterFactory], { FLOWS: join(import.meta.dirname, '../../receivers/replay/testdata/flows.jsonl') }), [
    `${file}:5:24: processors::k8sattributes::pod_labels::1: expected a Kubernetes label key like team or app.kubernetes.io/name`,
    `${file}:6:30: processors::k8sattributes::namespace_labels::1: "team" is listed twice`,
    `${file}:7:5: processors::k8sattributes::max_label_values: max_label_values must be at least 1`,
    `${file}:9:42: processors::k8sattributes/collide::pod_labels::1: "app-kubernetes-io/name" and "app.kubernetes.io/name" both become the Prometheus label suffix "app_kubernetes_io_name": keep one`,
    `${file}:11:5: processors::k8sattributes/many::pod_labels: pod_labels and namespace_labels together list 17 labels, at most 16: each is two attributes on every flow (both ends), and a gateway's otlp receiver takes 64 attributes a point by default`,
  ]);
});

test('source: static: pod labels and namespaces (labels, zonetap.io/ignore) from the inventory', async () => {
  const file = join(dir, 'inventory.yaml');
  writeFileSync(file, [
    'nodes:',
    '  - { name: n1, zone: zone-a, addresses: [192.168.62.1] }',
    'namespaces:',
    '  - { name: shop, labels: { team: commerce } }',
    '  - { name: audit, annotations: { zonetap.io/ignore: "true" } }',
    'pods:',
    '  - { namespace: shop, name: web-0, node: n1, addresses: [10.6.0.1], labels: { team: web, tier: front } }',
    '  - { namespace: audit, name: scan-0, node: n1, addresses: [10.6.0.2] }',
    '',
  ].join('\n'));
  const s = harness({ source: 'static', inventory: file, max_held_records: 0, pod_labels: ['team'], namespace_labels: ['team'] });
  await s.processor.start();
  try {
    const [r] = await s.run(['10.6.0.2', '10.6.0.1']);
    assert.deepEqual(known(r!.src), { address: '', port: 0, namespace: 'audit', zone: 'zone-a' });
    assert.equal(r!.ignored, true);
    assert.deepEqual([r!.dst.podLabels, r!.dst.namespaceLabels], [{ team: 'web' }, { team: 'commerce' }]);
  } finally {
    await s.processor.shutdown();
  }
});
