/**
 * The PreferClose rule on measured flows, not fixtures: a simulated cluster
 * (sim/: network namespaces, real eBPF agents, UDP of known size) whose
 * gateway runs k8sattributes with the Kubernetes source, against the fake API
 * server holding the cluster's nodes and pods and two Services with
 * endpoints in zones a and b: `web`, which does not route by zone, and
 * `search`, which does (spec.trafficDistribution: PreferClose). Clients in
 * zones a and c call both. The advice read from the gateway's flow log must
 * tell `web` to set PreferClose, and must not tell `search` (it has it):
 * its clients in zone c, where it has no endpoint, need replicas there.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { FakeKubeApiServer, makeEndpointSlice, makeService } from '../test/kube-api/index.ts';
import { objectsFromInventory } from '../test/kube-api/from-inventory.ts';
import { until } from '../test/support/poll.ts';
import { assertPrivileged, privileged } from '../test/support/privileges.ts';
import { CONFIG_DIR } from '../sim/zonetap-process.ts';
import { Cluster, deployZonetap, parseTopology, writeInventory, type Deployment, type PlannedPod, type Send } from '../sim/index.ts';
import { advise } from './index.ts';
import { observedFromFlowLog } from '../exporters/flowlog/index.ts';

const PORT = 7000;
const TOPOLOGY = parseTopology({
  name: 'advice',
  regions: { 'region-1': ['zone-a', 'zone-b', 'zone-c'] },
  nodes: [{ name: 'node-a', zone: 'zone-a' }, { name: 'node-b', zone: 'zone-b' }, { name: 'node-c', zone: 'zone-c' }],
  pods: [
    { namespace: 'shop', name: 'web-0', workload: { kind: 'Deployment', name: 'web' }, node: 'node-a' },
    { namespace: 'shop', name: 'web-1', workload: { kind: 'Deployment', name: 'web' }, node: 'node-b' },
    { namespace: 'shop', name: 'search-0', workload: { kind: 'Deployment', name: 'search' }, node: 'node-a' },
    { namespace: 'shop', name: 'search-1', workload: { kind: 'Deployment', name: 'search' }, node: 'node-b' },
    { namespace: 'shop', name: 'client-a', workload: { kind: 'Deployment', name: 'client' }, node: 'node-a' },
    { namespace: 'shop', name: 'client-c', workload: { kind: 'Deployment', name: 'client' }, node: 'node-c' },
  ],
});

describe('advice on measured flows: PreferClose only for the Service that does not route by zone', privileged(), () => {
  let cluster: Cluster;
  let api: FakeKubeApiServer;
  let deployment: Deployment | undefined;
  const workdir = mkdtempSync(join(tmpdir(), 'zt-advice-measured-'));

  before(async () => {
    assertPrivileged();
    cluster = await Cluster.build(TOPOLOGY, { scenario: `zta${process.pid % 100000}` });
    // The API server holds what the inventory says (nodes, pods, ReplicaSets), and the two Services.
    const inventory = join(workdir, 'api-inventory.yaml');
    writeInventory(cluster.plan, inventory);
    api = new FakeKubeApiServer();
    await api.start();
    for (const [resource, objects] of Object.entries(objectsFromInventory(inventory))) for (const o of objects) api.store.create(resource as 'pods', o);
    for (const [name, trafficDistribution] of [['web', undefined], ['search', 'PreferClose']] as const) {
      api.store.create('services', makeService({ namespace: 'shop', name, clusterIPs: [], ports: [{ port: PORT, protocol: 'UDP' }], trafficDistribution }));
      const endpoints = cluster.podsOf(name).map((p) => ({ address: p.addresses[0], pod: p.spec.name, zone: p.node.zone }));
      api.store.create('endpointslices', makeEndpointSlice({ namespace: 'shop', name: `${name}-x1`, service: name, endpoints, ports: [{ port: PORT, protocol: 'UDP' }] }));
    }
    // The demo gateway, its k8sattributes reading the API server instead of the inventory.
    const gateway = parse(readFileSync(join(CONFIG_DIR, 'demo-gateway.yaml'), 'utf8'));
    gateway.processors.k8sattributes = { kubeconfig: api.writeKubeconfig(join(workdir, 'kubeconfig')), sync_timeout: '20s' };
    const gatewayConfig = join(workdir, 'gateway.yaml');
    writeFileSync(gatewayConfig, stringify(gateway));
    deployment = await deployZonetap(cluster, { workdir, interval: '1s', provider: 'gcp', gatewayConfig });
  });
  after(async () => {
    await deployment?.stop();
    await api?.stop();
    cluster?.destroy();
    rmSync(workdir, { recursive: true, force: true });
  });

  test('web gets prefer-close; search, which has PreferClose, gets replicas in zone-c instead', { timeout: 120_000 }, async () => {
    const pod = (name: string) => cluster.pod(`shop/${name}`) as PlannedPod;
    const servers = ['web-0', 'web-1', 'search-0', 'search-1'].map((name) => cluster.run(pod(name), { udpPort: PORT }));
    await Promise.all(servers.map((s) => s.listening));
    const udp = (to: string): Send => ({ transport: 'udp', to: pod(to).addresses[0], port: PORT, size: 1000, count: 100, rate: 200_000 });
    const clients = ['client-a', 'client-c'].map((name) => cluster.run(pod(name), { sends: ['web-0', 'web-1', 'search-0', 'search-1'].map(udp) }));
    await Promise.all(clients.map((c) => c.done));
    await Promise.all(servers.map((s) => s.stop()));
    await deployment!.stopAgents();
    // Every cross-zone pair reached the gateway's flow log: client-a -> *-1 (zone b), client-c -> all four.
    const crossing = async () => (await observedFromFlowLog(deployment!.flowLog)).observed.filter((t) => t.trafficClass === 'cross_zone').length;
    await until('six cross-zone pod pairs in the flow log', async () => ((await crossing().catch(() => 0)) >= 6 ? true : undefined), { timeoutMs: 30_000 });
    await deployment!.stop();

    const { observed } = await observedFromFlowLog(deployment!.flowLog);
    const webFlows = observed.filter((t) => t.dstService === 'web');
    const searchFlows = observed.filter((t) => t.dstService === 'search');
    assert.ok(webFlows.length > 0 && webFlows.every((t) => !t.dstServiceTopologyAware), 'web is named, and does not route by zone');
    assert.ok(searchFlows.length > 0 && searchFlows.every((t) => t.dstServiceTopologyAware), 'search is named, and routes by zone');

    const items = advise(observed, 10).items;
    const web = items.find((i) => i.server === 'shop/web');
    const search = items.filter((i) => i.server === 'shop/search');
    assert.equal(web?.rule, 'prefer-close', JSON.stringify(items, null, 1));
    assert.match(web!.remedy, /trafficDistribution: PreferClose on Service web/);
    assert.ok(web!.monthlyUsd > 0 && web!.evidence.length > 0);
    assert.deepEqual(search.map((i) => i.rule), ['spread-replicas'], JSON.stringify(items, null, 1));
    assert.doesNotMatch(search[0]!.remedy, /PreferClose/);
    assert.match(search[0]!.remedy, /Run replicas of shop\/search in zone-c/);
    // Its evidence: the measured flows from zone c to search, and only those (routing by zone already serves zone a).
    assert.equal(search[0]!.evidenceCount, 2, JSON.stringify(search[0]!.evidence));
    assert.ok(search[0]!.evidence.every((e) => e.source.includes('shop/client-c') && e.source.includes('-> shop/search-')), JSON.stringify(search[0]!.evidence));
  });
});
