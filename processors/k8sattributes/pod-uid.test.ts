/**
 * k8sattributes names a source by the pod UID the cgroup receiver put on it
 * (FlowEndpoint.podUid) before its address: a hostNetwork pod as itself, not
 * as its node; a pod whose address is not known; a pod deleted within its
 * grace period. Both sources: a static inventory, and the Kubernetes API (the
 * fake API server, which gives every pod a metadata.uid as the real one does).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeKubeApiServer, makeNode, makePod } from '../../test/kube-api/index.ts';
import type { FlowRecord } from '../../pipeline/flow.ts';
import { flow, harness, known, type Harness } from '../../test/support/k8sattributes.ts';
import { eventually } from '../../test/support/poll.ts';

const PROXY_UID = '3f1c2b9a-8d4e-4f1a-9b2c-0e5d6f7a8b9c';
const API_UID = '0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d';
const dir = mkdtempSync(join(tmpdir(), 'zt-k8sattr-uid-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** One flow from `src` (sent by the pod `podUid`, as the cgroup receiver reports it) through the processor. */
async function resolve(h: Harness, src: string, podUid: string | undefined, dst = '192.168.50.2'): Promise<FlowRecord[]> {
  const record = flow(src, dst);
  if (podUid !== undefined) record.src.podUid = podUid;
  await h.processor.consume({ start: 0, end: 1, records: [record] });
  return h.out.batches.at(-1)!.records;
}

const inventory = `nodes:
  - { name: node-a, zone: zone-a, region: region-1, addresses: [192.168.50.1] }
  - { name: node-b, zone: zone-b, region: region-1, addresses: [192.168.50.2] }
pods:
  - { namespace: kube-system, name: kube-proxy-a, uid: ${PROXY_UID}, workload: { kind: DaemonSet, name: kube-proxy }, node: node-a, addresses: [192.168.50.1], hostNetwork: true }
  - { namespace: shop, name: api-0, uid: ${API_UID}, workload: { kind: Deployment, name: api }, node: node-a, addresses: [10.1.0.5] }
`;

test('static inventory: a hostNetwork pod named by its UID is itself, on its node; without a UID its address is the node', async () => {
  const file = join(dir, 'inventory.yaml');
  writeFileSync(file, inventory);
  const h = harness({ source: 'static', inventory: file, node_name: 'node-a' });
  await h.processor.start();
  try {
    const [byUid] = await resolve(h, '192.168.50.1', PROXY_UID);
    assert.deepEqual(known(byUid!.src), {
      address: '192.168.50.1',
      port: 40000,
      namespace: 'kube-system',
      pod: 'kube-proxy-a',
      workloadKind: 'DaemonSet',
      workloadName: 'kube-proxy',
      node: 'node-a',
      zone: 'zone-a',
      region: 'region-1',
      hostNetwork: true,
    });
    assert.equal(byUid!.src.podUid, undefined, 'the UID is a hint, not put on the wire');
    const [byAddress] = await resolve(h, '192.168.50.1', undefined);
    assert.deepEqual([byAddress!.src.workloadKind, byAddress!.src.workloadName, byAddress!.src.pod], ['Node', 'node-a', undefined]);
    // A UID the inventory does not know: the address decides, as before.
    const [unknownUid] = await resolve(h, '10.1.0.5', '99999999-8d4e-4f1a-9b2c-0e5d6f7a8b9c');
    assert.equal(unknownUid!.src.pod, 'api-0');
    // Named by its UID, a pod passes the agent's locality filter even when its address is unknown.
    const [noAddress] = await resolve(h, '10.9.9.9', API_UID);
    assert.deepEqual([noAddress!.src.namespace, noAddress!.src.pod, noAddress!.src.workloadName, noAddress!.src.hostNetwork], ['shop', 'api-0', 'api', false]);
  } finally {
    await h.processor.shutdown();
  }
});

test('at a gateway, a source an agent named a hostNetwork pod keeps that name: its address only says "its node"', async () => {
  const file = join(dir, 'gateway-inventory.yaml');
  writeFileSync(file, inventory);
  const h = harness({ source: 'static', inventory: file });
  await h.processor.start();
  try {
    const fromAgent = flow('192.168.50.1', '192.168.50.2');
    Object.assign(fromAgent.src, { namespace: 'kube-system', pod: 'kube-proxy-a', workloadKind: 'DaemonSet', workloadName: 'kube-proxy', node: 'node-a', zone: 'zone-a', region: 'region-1', hostNetwork: true });
    await h.processor.consume({ start: 0, end: 1, records: [fromAgent, flow('192.168.50.1', '192.168.50.2')] });
    const [kept, node] = h.out.batches.at(-1)!.records;
    assert.deepEqual([kept!.src.pod, kept!.src.workloadName, kept!.src.hostNetwork], ['kube-proxy-a', 'kube-proxy', true]);
    assert.equal(kept!.dst.workloadName, 'node-b', 'the destination is still named');
    assert.deepEqual([node!.src.pod, node!.src.workloadKind, node!.src.workloadName], [undefined, 'Node', 'node-a'], 'an unnamed source from that address is the node');
  } finally {
    await h.processor.shutdown();
  }
});

test('static inventory: a UID that is not a UID is refused with its line', () => {
  const file = join(dir, 'bad-uid.yaml');
  writeFileSync(file, inventory.replace(API_UID, 'api-0-uid'));
  const h = harness({ source: 'static', inventory: file });
  return assert.rejects(h.processor.start(), (err: Error) => {
    assert.match(err.message, new RegExp(`${file}:6:\\d+: pods\\[1\\]\\.uid: expected a pod UID like 3f1c2b9a-8d4e-4f1a-9b2c-0e5d6f7a8b9c`));
    return true;
  });
});

describe('Kubernetes source', () => {
  let server: FakeKubeApiServer;
  let h: Harness;
  before(async () => {
    server = new FakeKubeApiServer({ bookmarkIntervalMs: 300 });
    await server.start();
    const kubeconfig = server.writeKubeconfig(join(dir, 'kubeconfig'));
    server.store.create('nodes', makeNode({ name: 'node-a', zone: 'zone-a', region: 'region-1', internalIPs: ['192.168.50.1'] }));
    server.store.create('pods', makePod({ namespace: 'kube-system', name: 'kube-proxy-a', node: 'node-a', ips: ['192.168.50.1'], hostNetwork: true, owner: { kind: 'DaemonSet', name: 'kube-proxy' } }));
    h = harness({ kubeconfig, sync_timeout: '10s', pod_delete_grace: '1h' });
    await h.processor.start();
  });
  after(async () => {
    await h?.processor.shutdown();
    await server?.stop();
  });

  test('Kubernetes source: metadata.uid names a hostNetwork pod, and a deleted pod within its grace period', async () => {
    const uid = String(server.store.get('pods', 'kube-system', 'kube-proxy-a')!.metadata.uid);
    const [live] = await eventually(async () => {
      const records = await resolve(h, '192.168.50.1', uid);
      assert.equal(records[0]!.src.pod, 'kube-proxy-a');
      return records;
    });
    assert.deepEqual([live!.src.namespace, live!.src.workloadKind, live!.src.workloadName, live!.src.hostNetwork, live!.src.node], ['kube-system', 'DaemonSet', 'kube-proxy', true, 'node-a']);
    server.store.delete('pods', 'kube-system', 'kube-proxy-a');
    await eventually(() => assert.equal(h.processor.directory!.podCount, 0));
    const [late] = await resolve(h, '192.168.50.1', uid);
    assert.equal(late!.src.pod, 'kube-proxy-a', 'its last flows, drained after the deletion, are still its own');
  });
});
