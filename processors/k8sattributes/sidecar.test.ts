/**
 * k8sattributes on a sidecar (pod_name, pod_namespace): every flow was counted
 * in the pod's own network namespace, so its source is that pod, found by
 * name: before the API reports the pod's address, when the address was a
 * deleted pod's, and for overflow records. Destinations resolve as usual; a
 * flow to the pod's own address never left the pod and is dropped.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeKubeApiServer, makeNode, makePod } from '../../test/kube-api/index.ts';
import { OVERFLOW_TRANSPORT } from '../../pipeline/flow.ts';
import { configProblems } from '../../test/support/components.ts';
import { FACTORIES } from '../../cli/factories.ts';
import { POD } from './directory.ts';
import { harness, known } from '../../test/support/k8sattributes.ts';
import { eventually } from '../../test/support/poll.ts';

const here = import.meta.dirname;
const example = join(here, '../../config/inventory.example.yaml');
const API_POD = { address: '10.1.0.5', namespace: 'shop', pod: 'api-7d9f-abcde', workloadKind: 'Deployment', workloadName: 'api', node: 'node-a', zone: 'zone-a', region: 'region-1', hostNetwork: false };

test('pod_name and pod_namespace go together, and not with node_name (testdata/bad-sidecar.yaml)', async () => {
  const file = join(here, 'testdata/bad-sidecar.yaml');
  assert.deepEqual(await configProblems([file], FACTORIES, { POD_NAME: 'db-0' }), [
    `${file}:4:3: processors::k8sattributes::pod_namespace: pod_name and pod_namespace go together (a sidecar's own pod): set pod_namespace too, e.g. pod_namespace: \${env:POD_NAMESPACE}`,
    `${file}:7:5: processors::k8sattributes/both::node_name: node_name is for agents and pod_name for sidecars: set one of them`,
  ]);
});

test('static source: every source is the sidecar\'s pod, whatever its address; destinations resolve by address', async () => {
  const h = harness({ source: 'static', inventory: example, pod_name: 'api-7d9f-abcde', pod_namespace: 'shop' });
  await h.processor.start();
  try {
    const [own, unknown, reused] = await h.run(['10.1.0.5', '10.2.0.7', 100], ['10.9.9.9', '192.168.50.2', 200], ['10.2.0.7', '1.1.1.1', 300]);
    assert.deepEqual(known(own!.src), { ...API_POD, port: 40000 });
    assert.equal(own!.dst.pod, 'db-0');
    // An address the inventory does not list yet, or still lists for another (deleted) pod: counted here, so this pod's.
    assert.deepEqual(known(unknown!.src), { ...API_POD, address: '10.9.9.9', port: 40000 });
    assert.equal(unknown!.dst.workloadName, 'node-b');
    assert.deepEqual(known(reused!.src), { ...API_POD, address: '10.2.0.7', port: 40000 });
    assert.deepEqual(known(reused!.dst), { address: '1.1.1.1', port: 8080 });
    await h.processor.consume({ start: 0, end: 1, records: [{ src: { address: '', port: 0 }, dst: { address: '', port: 0 }, transport: OVERFLOW_TRANSPORT, ipFamily: 'ipv4', bytes: 50, packets: 1 }] });
    assert.equal(h.out.records.at(-1)!.src.pod, 'api-7d9f-abcde', 'overflow records were counted in this pod too');
    assert.deepEqual([h.processor.stats.unresolvedSrcBytes, h.processor.stats.droppedForwardedFlows, h.processor.stats.droppedUnknownSourceFlows, h.processor.stats.droppedWithinPodFlows], [0, 0, 0, 0]);
    // From the pod to its own address: delivered over loopback, inside the pod.
    assert.deepEqual(await h.run(['10.1.0.5', '10.1.0.5', 100], ['fd01::5', 'fd01::5', 100]), []);
    assert.equal(h.processor.stats.droppedWithinPodFlows, 2);
  } finally {
    await h.processor.shutdown();
  }
});

test('static source: a pod the inventory does not list leaves sources unresolved after resolve_wait, never dropped', async () => {
  const h = harness({ source: 'static', inventory: example, pod_name: 'not-listed', pod_namespace: 'shop', resolve_wait: '200ms' });
  await h.processor.start();
  try {
    assert.deepEqual(await h.run(['10.1.0.5', '10.2.0.7', 100]), [], 'held: the pod may be listed within resolve_wait');
    const r = await eventually(() => h.out.records[0] ?? assert.fail('not passed on yet'));
    // Placed by node-a's pod CIDR (its zone), not named after the pod that had the address.
    assert.deepEqual(known(r.src), { address: '10.1.0.5', port: 40000, zone: 'zone-a', region: 'region-1' });
    assert.equal(r.dst.pod, 'db-0');
    assert.equal(h.processor.stats.unresolvedSrcBytes, 100);
    assert.equal(h.processor.stats.droppedUnknownSourceFlows, 0);
  } finally {
    await h.processor.shutdown();
  }
});

describe('kubernetes source', () => {
  let server: FakeKubeApiServer;
  let dir: string;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'zt-k8sattr-sidecar-'));
    server = new FakeKubeApiServer({ bookmarkIntervalMs: 300 });
    await server.start();
    server.store.create('nodes', makeNode({ name: 'node-a', zone: 'zone-a', region: 'region-1', internalIPs: ['192.168.50.1'] }));
    server.store.create('nodes', makeNode({ name: 'node-b', zone: 'zone-b', region: 'region-1', internalIPs: ['192.168.50.2'] }));
    // The sidecar's pod as the API shows it while its sandbox starts: scheduled, no address yet.
    server.store.create('pods', makePod({ namespace: 'shop', name: 'db-0', node: 'node-a', owner: { kind: 'StatefulSet', name: 'db' }, phase: 'Pending' }));
    server.store.create('pods', makePod({ namespace: 'shop', name: 'api-0', node: 'node-b', ips: ['10.2.0.5'] }));
  });
  after(async () => {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('the pod is named from its first flow, before the API reports its address', async () => {
    const h = harness({ kubeconfig: server.writeKubeconfig(join(dir, 'kubeconfig')), sync_timeout: '10s', pod_name: 'db-0', pod_namespace: 'shop' });
    await h.processor.start();
    try {
      const DB = { namespace: 'shop', pod: 'db-0', workloadKind: 'StatefulSet', workloadName: 'db', node: 'node-a', zone: 'zone-a', region: 'region-1', hostNetwork: false };
      const [early] = await h.run(['10.1.0.7', '10.2.0.5', 100]);
      assert.deepEqual(known(early!.src), { ...DB, address: '10.1.0.7', port: 40000 });
      assert.equal(early!.dst.pod, 'api-0');
      assert.equal(early!.dst.zone, 'zone-b');
      server.store.modify('pods', 'shop', 'db-0', (p) => Object.assign(p.status as object, { phase: 'Running', podIP: '10.1.0.7', podIPs: [{ ip: '10.1.0.7' }] }));
      await eventually(() => assert.equal(h.processor.directory!.lookup('10.1.0.7')?.kind, POD, 'the watch saw the address'));
      const [later] = await h.run(['10.1.0.7', '10.2.0.5', 100]);
      assert.deepEqual(known(later!.src), { ...DB, address: '10.1.0.7', port: 40000 });
    } finally {
      await h.processor.shutdown();
    }
  });
});
