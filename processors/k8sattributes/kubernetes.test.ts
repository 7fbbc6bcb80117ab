/**
 * k8sattributes with source: kubernetes, against the fake API server on
 * loopback (plain HTTP; TLS and credentials: credentials.test.ts).
 */
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeKubeApiServer, makeJob, makeNode, makePod, makeReplicaSet } from '../../test/kube-api/index.ts';
import { serviceStartError } from '../../test/support/components.ts';
import { harness, known, type Harness } from '../../test/support/k8sattributes.ts';
import { freePort } from '../../test/support/loopback.ts';
import { eventually, sleep } from '../../test/support/poll.ts';
import { configSchema } from './config.ts';
import { k8sattributesProcessorFactory } from './factory.ts';

let server: FakeKubeApiServer;
let dir: string;
let kubeconfig: string;
const running: Harness[] = [];

async function started(config: Record<string, unknown> = {}): Promise<Harness> {
  const h = harness({ kubeconfig, sync_timeout: '10s', ...config });
  running.push(h);
  await h.processor.start();
  return h;
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'zt-k8sattr-'));
  server = new FakeKubeApiServer({ bookmarkIntervalMs: 300 });
  await server.start();
  kubeconfig = server.writeKubeconfig(join(dir, 'kubeconfig'));
  const s = server.store;
  s.create('nodes', makeNode({ name: 'node-a', zone: 'zone-a', region: 'region-1', internalIPs: ['192.168.50.1', 'fd00:50::1'], externalIPs: ['203.0.113.10'] }));
  s.create('nodes', makeNode({ name: 'node-b', zone: 'zone-b', region: 'region-1', internalIPs: ['192.168.50.2'] }));
  s.create('nodes', makeNode({ name: 'node-c', zone: 'zone-c', region: 'region-1', legacyLabels: true, internalIPs: ['192.168.50.3'] }));
  s.create('replicasets', makeReplicaSet('shop', 'api-7d9f', 'api'));
  s.create('replicasets', makeReplicaSet('shop', 'orphan-rs'));
  s.create('jobs', makeJob('batch', 'report-29000', 'report'));
  s.create('pods', makePod({ namespace: 'shop', name: 'api-7d9f-aaaaa', node: 'node-a', ips: ['10.1.0.5', 'fd01::5'], owner: { kind: 'ReplicaSet', name: 'api-7d9f' } }));
  s.create('pods', makePod({ namespace: 'shop', name: 'db-0', node: 'node-b', ips: ['10.2.0.7'], owner: { kind: 'StatefulSet', name: 'db' } }));
  s.create('pods', makePod({ namespace: 'kube-system', name: 'agent-x1', node: 'node-c', ips: ['10.3.0.2'], owner: { kind: 'DaemonSet', name: 'agent' } }));
  s.create('pods', makePod({ namespace: 'batch', name: 'report-29000-zzz', node: 'node-b', ips: ['10.2.0.9'], owner: { kind: 'Job', name: 'report-29000' } }));
  s.create('pods', makePod({ namespace: 'shop', name: 'orphan-rs-q', node: 'node-c', ips: ['10.3.0.3'], owner: { kind: 'ReplicaSet', name: 'orphan-rs' } }));
  s.create('pods', makePod({ namespace: 'default', name: 'debug', node: 'node-c', ips: ['10.3.0.4'] }));
  s.create('pods', makePod({ namespace: 'kube-system', name: 'kube-proxy-a', node: 'node-a', ips: ['192.168.50.1'], hostNetwork: true, owner: { kind: 'DaemonSet', name: 'kube-proxy' } }));
});

after(async () => {
  for (const h of running) await h.processor.shutdown();
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('resolution', () => {
  let h: Harness;
  before(async () => {
    // Nothing held (max_held_records: 0): each batch comes out whole. Holding: new-pods.test.ts.
    h = await started({ max_held_records: 0 });
  });

  test('both ends get namespace, pod, workload, node, zone and region; workloads roll up through owners', async () => {
    assert.equal(h.processor.ready, true);
    const [r] = await h.run(['10.1.0.5', '10.2.0.7', 1234]);
    assert.deepEqual(known(r!.src), { address: '10.1.0.5', port: 40000, namespace: 'shop', pod: 'api-7d9f-aaaaa', workloadKind: 'Deployment', workloadName: 'api', node: 'node-a', zone: 'zone-a', region: 'region-1', hostNetwork: false });
    assert.deepEqual(known(r!.dst), { address: '10.2.0.7', port: 8080, namespace: 'shop', pod: 'db-0', workloadKind: 'StatefulSet', workloadName: 'db', node: 'node-b', zone: 'zone-b', region: 'region-1', hostNetwork: false });
    assert.equal(r!.bytes, 1234);
    const rows = await h.run(['10.2.0.9', '10.3.0.2'], ['10.3.0.3', '10.3.0.4']);
    assert.deepEqual([rows[0]!.src.workloadKind, rows[0]!.src.workloadName], ['CronJob', 'report'], 'Job -> CronJob');
    assert.deepEqual([rows[0]!.dst.workloadKind, rows[0]!.dst.workloadName, rows[0]!.dst.zone], ['DaemonSet', 'agent', 'zone-c'], 'legacy failure-domain zone label');
    assert.deepEqual([rows[1]!.src.workloadKind, rows[1]!.src.workloadName], ['ReplicaSet', 'orphan-rs'], 'a ReplicaSet without a Deployment is its own workload');
    assert.deepEqual([rows[1]!.dst.workloadKind, rows[1]!.dst.workloadName], ['Pod', 'debug'], 'a bare pod is its own workload');
  });

  test('IPv6 pod addresses (status.podIPs) and node addresses resolve; hostNetwork pods resolve to their node', async () => {
    const [v6, hostNet, external] = await h.run(['fd01::5', 'fd00:50::1'], ['192.168.50.1', '10.2.0.7'], ['203.0.113.10', '10.1.0.5']);
    assert.equal(v6!.src.pod, 'api-7d9f-aaaaa');
    assert.deepEqual(known(v6!.dst), { address: 'fd00:50::1', port: 8080, workloadKind: 'Node', workloadName: 'node-a', node: 'node-a', zone: 'zone-a', region: 'region-1', hostNetwork: true });
    assert.equal(hostNet!.src.pod, undefined, 'a hostNetwork address is shared by every hostNetwork pod of the node: it names the node');
    assert.equal(hostNet!.src.node, 'node-a');
    assert.equal(external!.src.node, 'node-a', 'ExternalIP resolves to the node too');
  });

  test('unknown addresses stay with what is known and their bytes are counted', async () => {
    const before = { ...h.processor.stats };
    const [r] = await h.run(['10.1.0.5', '8.8.8.8', 500]);
    assert.deepEqual(known(r!.dst), { address: '8.8.8.8', port: 8080 });
    assert.equal(r!.src.pod, 'api-7d9f-aaaaa');
    assert.equal(h.processor.stats.unresolvedDstBytes - before.unresolvedDstBytes, 500);
  });

  test('pods and nodes added, relabelled and deleted are followed', async () => {
    server.store.create('pods', makePod({ namespace: 'shop', name: 'web-1', node: 'node-b', ips: ['10.2.0.20'] }));
    await eventually(async () => assert.equal((await h.run(['10.2.0.20', '10.1.0.5']))[0]!.src.pod, 'web-1'));
    server.store.modify('nodes', undefined, 'node-b', (n) => (n.metadata.labels!['topology.kubernetes.io/zone'] = 'zone-b2'));
    await eventually(async () => assert.equal((await h.run(['10.2.0.20', '10.1.0.5']))[0]!.src.zone, 'zone-b2'));
    server.store.create('nodes', makeNode({ name: 'node-d', zone: 'zone-d', internalIPs: ['192.168.50.4'] }));
    await eventually(async () => assert.equal((await h.run(['192.168.50.4', '10.1.0.5']))[0]!.src.zone, 'zone-d'));
    server.store.delete('nodes', undefined, 'node-d');
    await eventually(async () => assert.equal((await h.run(['192.168.50.4', '10.1.0.5']))[0]!.src.node, undefined));
    // A ReplicaSet that shows up after its pods: the pods roll up once it is known.
    server.store.create('pods', makePod({ namespace: 'shop', name: 'late-5c4-x', node: 'node-a', ips: ['10.1.0.40'], owner: { kind: 'ReplicaSet', name: 'late-5c4' } }));
    await eventually(async () => assert.equal((await h.run(['10.1.0.40', '10.1.0.5']))[0]!.src.workloadKind, 'ReplicaSet'));
    server.store.create('replicasets', makeReplicaSet('shop', 'late-5c4', 'late'));
    await eventually(async () => assert.equal((await h.run(['10.1.0.40', '10.1.0.5']))[0]!.src.workloadName, 'late'));
  });

  test('a pod deleted 1 s after sending traffic still resolves within the grace period', async () => {
    server.store.create('pods', makePod({ namespace: 'batch', name: 'short-lived', node: 'node-a', ips: ['10.1.0.77'] }));
    await eventually(async () => assert.equal((await h.run(['10.1.0.77', '10.2.0.7']))[0]!.src.pod, 'short-lived'));
    await sleep(1000);
    server.store.delete('pods', 'batch', 'short-lived');
    await eventually(() => assert.ok(![...h.processor.directory!.pods()].some((p) => p.name === 'short-lived')));
    const [r] = await h.run(['10.1.0.77', '10.2.0.7', 900]);
    assert.equal(r!.src.pod, 'short-lived');
    assert.equal(r!.src.zone, 'zone-a');
  });

  test('IP reuse: a new pod takes the address of a deleted one; of two live pods the newest wins', async () => {
    server.store.create('pods', makePod({ namespace: 'shop', name: 'old', node: 'node-a', ips: ['10.1.0.88'] }));
    await eventually(async () => assert.equal((await h.run(['10.1.0.88', '10.2.0.7']))[0]!.src.pod, 'old'));
    server.store.delete('pods', 'shop', 'old');
    server.store.create('pods', makePod({ namespace: 'shop', name: 'new', node: 'node-b', ips: ['10.1.0.88'] }));
    await eventually(async () => assert.equal((await h.run(['10.1.0.88', '10.2.0.7']))[0]!.src.pod, 'new'));
    // Two live pods (the old one's deletion not yet seen): newest creationTimestamp wins, whatever the event order.
    server.store.create('pods', makePod({ namespace: 'shop', name: 'newer', node: 'node-c', ips: ['10.1.0.99'], creationTimestamp: '2026-03-01T00:00:00Z' }));
    server.store.create('pods', makePod({ namespace: 'shop', name: 'older', node: 'node-a', ips: ['10.1.0.99'], creationTimestamp: '2026-01-01T00:00:00Z' }));
    await eventually(() => assert.ok([...h.processor.directory!.pods()].some((p) => p.name === 'older')));
    assert.equal((await h.run(['10.1.0.99', '10.2.0.7']))[0]!.src.pod, 'newer');
    server.store.delete('pods', 'shop', 'newer');
    await eventually(async () => assert.equal((await h.run(['10.1.0.99', '10.2.0.7']))[0]!.src.pod, 'older', 'a live pod beats a deleted one'));
  });
});

test('deleted pods stop resolving after pod_delete_grace', async () => {
  const h = await started({ pod_delete_grace: '300ms', resolve_wait: '300ms', max_held_records: 0 });
  server.store.create('pods', makePod({ namespace: 'shop', name: 'brief', node: 'node-a', ips: ['10.1.0.111'] }));
  await eventually(async () => assert.equal((await h.run(['10.1.0.111', '10.2.0.7']))[0]!.src.pod, 'brief'));
  server.store.delete('pods', 'shop', 'brief');
  await eventually(() => assert.ok(![...h.processor.directory!.pods()].some((p) => p.name === 'brief')));
  await sleep(400); // past pod_delete_grace (checked against the clock when an address is looked up)
  assert.equal((await h.run(['10.1.0.111', '10.2.0.7']))[0]!.src.pod, undefined);
  await h.processor.shutdown();
});

test('410 Gone: a watch expired by the server relists and catches up', async () => {
  const h = await started();
  const lists = () => server.requests.filter((r) => r.path === '/api/v1/pods' && r.query.watch === undefined).length;
  const before = lists();
  server.expireWatches();
  server.store.create('pods', makePod({ namespace: 'shop', name: 'after-410', node: 'node-a', ips: ['10.1.0.120'] }));
  await eventually(async () => assert.equal((await h.run(['10.1.0.120', '10.2.0.7']))[0]!.src.pod, 'after-410'));
  assert.ok(lists() > before, 'the pod informer listed again');
  await h.processor.shutdown();
});

test('API server restarted mid-watch: informers resume from their resourceVersion, or relist when it was compacted', async () => {
  const h = await started();
  const lists = () => server.requests.filter((r) => r.path === '/api/v1/pods' && r.query.watch === undefined).length;
  const listsBefore = lists();
  await server.stop();
  server.store.create('pods', makePod({ namespace: 'shop', name: 'during-outage', node: 'node-b', ips: ['10.2.0.130'] }));
  server.store.delete('pods', 'default', 'debug');
  await sleep(300); // the API server stays down a while
  await server.start();
  await eventually(async () => assert.equal((await h.run(['10.2.0.130', '10.2.0.7']))[0]!.src.pod, 'during-outage'));
  await eventually(() => assert.ok(![...h.processor.directory!.pods()].some((p) => p.name === 'debug')));
  assert.equal(lists(), listsBefore, 'resumed from the resourceVersion without a relist');
  assert.equal(h.processor.ready, true);

  await server.stop();
  server.store.create('pods', makePod({ namespace: 'shop', name: 'after-compaction', node: 'node-b', ips: ['10.2.0.131'] }));
  server.store.compact();
  await server.start();
  await eventually(async () => assert.equal((await h.run(['10.2.0.131', '10.2.0.7']))[0]!.src.pod, 'after-compaction'));
  assert.ok(lists() > listsBefore, 'relisted after 410');
  assert.ok(h.logs.some((l) => /cannot watch (pods|nodes|replicasets|jobs) from the Kubernetes API/.test(l)), 'the outage was logged');
  await h.processor.shutdown();
});

test('agent mode: three agents with node_name a/b/c pass each flow exactly once', async () => {
  // Nothing held (max_held_records: 0): every flow is decided in its own batch. Holding: new-pods.test.ts.
  const agents = await Promise.all(['node-a', 'node-b', 'node-c'].map((node_name) => started({ node_name, max_held_records: 0 })));
  const flows: Array<[string, string, number]> = [
    ['10.1.0.5', '10.2.0.7', 100], // pod on node-a -> pod on node-b
    ['10.2.0.7', '10.1.0.5', 200], // node-b -> node-a (seen forwarded elsewhere)
    ['10.3.0.2', '8.8.8.8', 300], // node-c -> internet
    ['192.168.50.1', '10.3.0.2', 400], // node-a's own address
    ['fd01::5', 'fd00:50::1', 500], // IPv6, node-a
    ['192.168.50.3', '10.2.0.7', 600], // node-c's own address
  ];
  const outputs = await Promise.all(agents.map((a) => a.run(...flows)));
  const passed = outputs.flat().map((r) => r.bytes).sort((x, y) => x - y);
  assert.deepEqual(passed, [100, 200, 300, 400, 500, 600], 'every flow counted once across the three agents');
  assert.deepEqual(outputs.map((o) => o.map((r) => r.bytes)), [[100, 400, 500], [200], [300, 600]]);
  assert.deepEqual(agents.map((a) => a.processor.stats.droppedForwardedFlows), [3, 5, 4]);
  // Synced with resolve: all, the agent knows every pod: an address none claims is no pod's, and is counted here.
  const [unknown] = await agents[0]!.run(['10.9.9.9', '10.1.0.5', 70]);
  assert.deepEqual(known(unknown!.src), { address: '10.9.9.9', port: 40000 });
  assert.equal(agents[0]!.processor.stats.unresolvedSrcBytes, 70);
  assert.equal(agents[0]!.processor.stats.droppedUnknownSourceFlows, 0);
  for (const a of agents) await a.processor.shutdown();
});

test('resolve: local watches only this node\'s pods with a spec.nodeName field selector', async () => {
  const h = await started({ node_name: 'node-b', resolve: 'local' });
  const req = server.requests.findLast((r) => r.path === '/api/v1/pods' && r.query.watch === 'true');
  assert.equal(req!.query.fieldSelector, 'spec.nodeName=node-b');
  const [r] = await h.run(['10.2.0.7', '10.1.0.5']);
  assert.equal(r!.src.pod, 'db-0');
  assert.equal(r!.dst.pod, undefined, 'pods of other nodes are left to the gateway');
  assert.ok(![...h.processor.directory!.pods()].some((p) => p.node?.name !== 'node-b'));
  await h.processor.shutdown();
});

describe('bad kubeconfig', () => {
  test('a kubeconfig removed after validation fails start with what, where and what to do', async () => {
    const config = { ...configSchema.parse({}), kubeconfig: join(dir, 'missing.yaml') };
    const err = await serviceStartError(k8sattributesProcessorFactory, 'k8sattributes', config);
    assert.equal(err.code, 'ZT_KUBERNETES');
    assert.match(err.message, /^failed to start "k8sattributes" processor in pipeline "flows": kubeconfig ".*missing\.yaml" \(processors::k8sattributes::kubeconfig\) does not exist: fix the path, or use source: static with an inventory file$/);
  });

  test('a kubeconfig pointing at a closed port starts unready after sync_timeout and says why', async () => {
    const port = await freePort();
    const file = join(dir, 'nowhere.yaml');
    writeFileSync(file, server.writeKubeconfig(join(dir, 'tmp.yaml')) && readFileSync(join(dir, 'tmp.yaml'), 'utf8').replace(/127\.0\.0\.1:\d+/, `127.0.0.1:${port}`));
    const h = harness({ kubeconfig: file, sync_timeout: '400ms', resolve_wait: '200ms' });
    running.push(h);
    await h.processor.start();
    assert.equal(h.processor.ready, false);
    const text = () => h.logs.map((l) => JSON.parse(l).msg).join('\n');
    assert.match(text(), /not synced with the Kubernetes API at .* after 400 ms; starting unready/);
    // The refused connection is logged when the first list fails, which a loaded machine may reach after start() returned.
    await eventually(() => assert.match(text(), new RegExp(`cannot list \\w+ from the Kubernetes API at http://127\\.0\\.0\\.1:${port} \\(kubeconfig "[^"]*nowhere\\.yaml"\\): [^;]*ECONNREFUSED[^;]*; check that the API server is running and that the kubeconfig points at it; retrying in \\d+ ms`)));
    assert.deepEqual(await h.run(['10.1.0.5', '10.2.0.7', 321]), [], 'the source is unknown: held for resolve_wait');
    const r = await eventually(() => h.out.records.find((o) => o.bytes === 321) ?? assert.fail('not passed on yet'));
    assert.equal(r.src.pod, undefined, 'flows pass through unresolved after resolve_wait while unready');
    await h.processor.shutdown();
  });
});

test('RBAC refusal (403): starts unready naming the permission, then syncs once it is granted', async () => {
  server.forbidden.add('replicasets');
  try {
    const h = harness({ kubeconfig, sync_timeout: '300ms' });
    running.push(h);
    await h.processor.start();
    // Unready whatever the timing: replicasets cannot sync while they are refused.
    assert.equal(h.processor.ready, false);
    // The refusal and the pods and nodes may come in after those 300 ms on a loaded machine: wait for them.
    const refusal = await eventually(() => {
      const messages = h.logs.map((l) => JSON.parse(l).msg as string);
      const found = messages.find((m) => m.includes('cannot list replicasets'));
      assert.ok(found, messages.join('\n'));
      return found;
    });
    assert.match(refusal, /403/);
    assert.match(refusal, /grant zonetap list and watch on pods, nodes, replicasets and jobs/);
    await eventually(async () => assert.equal((await h.run(['10.1.0.5', '10.2.0.7']))[0]!.src.pod, 'api-7d9f-aaaaa', 'pods and nodes resolve while replicasets are refused'));
    assert.equal(h.processor.ready, false, 'still unready: replicasets are refused');
    server.forbidden.delete('replicasets');
    await eventually(() => assert.equal(h.processor.ready, true));
    assert.equal((await h.run(['10.1.0.5', '10.2.0.7']))[0]!.src.workloadName, 'api');
    await h.processor.shutdown();
  } finally {
    server.forbidden.clear();
  }
});
