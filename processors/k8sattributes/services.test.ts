/**
 * Service attribution (README "Services"): destinations named after the
 * Service they back, from Services and EndpointSlices served by the fake API
 * server through the real @kubernetes/client-node; several Services per pod,
 * headless and ExternalName Services, ClusterIPs, and watch changes.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FlowRecord } from '../../pipeline/flow.ts';
import { FakeKubeApiServer, makeEndpointSlice, makeNode, makePod, makeService } from '../../test/kube-api/index.ts';
import { harness, type Harness } from '../../test/support/k8sattributes.ts';
import { eventually } from '../../test/support/poll.ts';

let server: FakeKubeApiServer;
let dir: string;
let h: Harness;

/** One flow from the client pod to `dst`:`port` over `transport`; the destination's Service as [namespace, name], or undefined. */
async function serviceOf(dst: string, port: number, transport = 'tcp'): Promise<[string | undefined, string | undefined] | undefined> {
  const record: FlowRecord = { src: { address: '10.1.0.9', port: 40000 }, dst: { address: dst, port }, transport, ipFamily: 'ipv4', bytes: 100, packets: 1 };
  const before = h.out.batches.length;
  await h.processor.consume({ start: 0, end: 1, records: [record] });
  const [r] = h.out.batches.slice(before).flatMap((b) => b.records);
  assert.equal(r!.src.service, undefined, 'a source is not named after a Service');
  return r!.dst.service === undefined ? undefined : [r!.dst.serviceNamespace, r!.dst.service];
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'zt-k8s-services-'));
  server = new FakeKubeApiServer({ bookmarkIntervalMs: 300 });
  await server.start();
  const s = server.store;
  s.create('nodes', makeNode({ name: 'node-a', zone: 'zone-a', internalIPs: ['192.168.60.1'] }));
  s.create('pods', makePod({ namespace: 'shop', name: 'client', node: 'node-a', ips: ['10.1.0.9'] }));
  s.create('pods', makePod({ namespace: 'shop', name: 'api-0', node: 'node-a', ips: ['10.1.0.5'] }));
  s.create('pods', makePod({ namespace: 'shop', name: 'db-0', node: 'node-a', ips: ['10.1.0.6'] }));
  s.create('pods', makePod({ namespace: 'shop', name: 'legacy-0', node: 'node-a', ips: ['10.1.0.7'] }));
  // api-0 backs three Services: "api" (8080/tcp, the oldest), "api-metrics" (9090/tcp) and "api-dns" (53/udp).
  s.create('services', makeService({ namespace: 'shop', name: 'api', clusterIPs: ['10.96.0.5'], ports: [{ port: 8080 }], creationTimestamp: '2026-01-01T00:00:00Z' }));
  s.create('services', makeService({ namespace: 'shop', name: 'api-metrics', clusterIPs: ['10.96.0.6'], ports: [{ port: 9090 }], creationTimestamp: '2026-02-01T00:00:00Z' }));
  s.create('services', makeService({ namespace: 'shop', name: 'api-dns', clusterIPs: ['10.96.0.7'], ports: [{ port: 53, protocol: 'UDP' }], creationTimestamp: '2026-03-01T00:00:00Z' }));
  s.create('endpointslices', makeEndpointSlice({ namespace: 'shop', name: 'api-abc', service: 'api', endpoints: [{ address: '10.1.0.5', pod: 'api-0' }], ports: [{ port: 8080 }] }));
  s.create('endpointslices', makeEndpointSlice({ namespace: 'shop', name: 'api-metrics-abc', service: 'api-metrics', endpoints: [{ address: '10.1.0.5', pod: 'api-0' }], ports: [{ port: 9090 }] }));
  s.create('endpointslices', makeEndpointSlice({ namespace: 'shop', name: 'api-dns-abc', service: 'api-dns', endpoints: [{ address: '10.1.0.5', pod: 'api-0' }], ports: [{ port: 53, protocol: 'UDP' }] }));
  // db-0 backs two Services created at the same time and publishing the same port: alphabetical order decides.
  for (const name of ['db-rw', 'db-primary']) {
    s.create('services', makeService({ namespace: 'shop', name, clusterIPs: [], ports: [{ port: 5432 }], creationTimestamp: '2026-01-01T00:00:00Z' }));
    s.create('endpointslices', makeEndpointSlice({ namespace: 'shop', name: `${name}-x`, service: name, endpoints: [{ address: '10.1.0.6', pod: 'db-0' }], ports: [{ port: 5432 }] }));
  }
  // A headless Service without ports: its slice lists no ports, every port is the Service's.
  s.create('services', makeService({ namespace: 'shop', name: 'db-headless', type: 'headless' }));
  s.create('endpointslices', makeEndpointSlice({ namespace: 'shop', name: 'db-headless-x', service: 'db-headless', endpoints: [{ address: '10.1.0.6', pod: 'db-0' }] }));
  // An ExternalName Service is a DNS alias; even a slice someone made for it names nothing.
  s.create('services', makeService({ namespace: 'shop', name: 'legacy', type: 'ExternalName', externalName: 'legacy.example.com' }));
  s.create('endpointslices', makeEndpointSlice({ namespace: 'shop', name: 'legacy-x', service: 'legacy', endpoints: [{ address: '10.1.0.7', pod: 'legacy-0' }], ports: [{ port: 80 }] }));
  // Routing by zone, each way Kubernetes has of saying it (and one that says no), one pod and Service each.
  const zoned: [string, string, Parameters<typeof makeService>[0], boolean][] = [
    ['web', '10.1.0.10', { name: 'web', trafficDistribution: 'PreferClose' }, false],
    ['cart', '10.1.0.11', { name: 'cart', annotations: { 'service.kubernetes.io/topology-mode': 'Auto' } }, false],
    ['search', '10.1.0.12', { name: 'search' }, true],
    ['plain', '10.1.0.13', { name: 'plain' }, false],
    ['old', '10.1.0.14', { name: 'old', annotations: { 'service.kubernetes.io/topology-aware-hints': 'Disabled' } }, false],
  ];
  for (const [name, ip, svc, hints] of zoned) {
    s.create('pods', makePod({ namespace: 'shop', name: `${name}-0`, node: 'node-a', ips: [ip] }));
    s.create('services', makeService({ namespace: 'shop', ports: [{ port: 80 }], ...svc }));
    s.create('endpointslices', makeEndpointSlice({ namespace: 'shop', name: `${name}-x`, service: name, endpoints: [{ address: ip, pod: `${name}-0`, zone: 'zone-a', ...(hints ? { hintZones: ['zone-a'] } : {}) }], ports: [{ port: 80 }] }));
  }
  h = harness({ kubeconfig: server.writeKubeconfig(join(dir, 'kubeconfig')), sync_timeout: '10s', max_held_records: 0 });
  await h.processor.start();
});

after(async () => {
  await h.processor.shutdown();
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('a pod that backs several Services: the one whose EndpointSlice port and protocol match the flow', async () => {
  assert.deepEqual(await serviceOf('10.1.0.5', 8080), ['shop', 'api']);
  assert.deepEqual(await serviceOf('10.1.0.5', 9090), ['shop', 'api-metrics']);
  assert.deepEqual(await serviceOf('10.1.0.5', 53, 'udp'), ['shop', 'api-dns']);
  assert.deepEqual(await serviceOf('10.1.0.5', 53, 'tcp'), ['shop', 'api'], '53/tcp is no Service\'s port: the oldest Service');
});

test('no port matches: the oldest Service; created together: by name', async () => {
  assert.deepEqual(await serviceOf('10.1.0.5', 7000), ['shop', 'api'], 'api is older than api-metrics and api-dns');
  assert.deepEqual(await serviceOf('10.1.0.6', 5432), ['shop', 'db-primary'], 'db-primary and db-rw: same age and port, alphabetical');
});

test('a headless Service is attributed (it has endpoints); an ExternalName Service is not', async () => {
  // db-headless (created now, the newest) lists no ports, so it matches 7777 where db-primary and db-rw do not.
  assert.deepEqual(await serviceOf('10.1.0.6', 7777), ['shop', 'db-headless']);
  assert.equal(await serviceOf('10.1.0.7', 80), undefined, 'legacy is ExternalName');
  assert.equal(await serviceOf('10.1.0.9', 8080), undefined, 'a pod that backs no Service');
});

test('a flow to a ClusterIP (before DNAT) resolves to its Service: namespace and Service, no pod and no zone', async () => {
  const record: FlowRecord = { src: { address: '10.1.0.9', port: 40000 }, dst: { address: '10.96.0.6', port: 9090 }, transport: 'tcp', ipFamily: 'ipv4', bytes: 100, packets: 1 };
  const before = h.out.batches.length;
  await h.processor.consume({ start: 0, end: 1, records: [record] });
  const [r] = h.out.batches.slice(before).flatMap((b) => b.records);
  assert.deepEqual([r!.dst.namespace, r!.dst.service, r!.dst.serviceNamespace, r!.dst.pod, r!.dst.zone], ['shop', 'api-metrics', 'shop', undefined, undefined]);
});

test('watch: a Service turned ExternalName, a slice deleted and a new slice are seen', async () => {
  server.store.delete('endpointslices', 'shop', 'api-metrics-abc');
  await eventually(async () => assert.deepEqual(await serviceOf('10.1.0.5', 9090), ['shop', 'api'], 'api-metrics has no endpoints left'));
  server.store.modify('services', 'shop', 'api', (svc: any) => {
    svc.spec = { type: 'ExternalName', externalName: 'api.example.com' };
  });
  await eventually(async () => assert.deepEqual(await serviceOf('10.1.0.5', 8080), ['shop', 'api-dns'], 'api is ExternalName now'));
  server.store.create('endpointslices', makeEndpointSlice({ namespace: 'shop', name: 'legacy-y', service: 'legacy-v2', endpoints: [{ address: '10.1.0.7', pod: 'legacy-0' }], ports: [{ port: 80 }] }));
  await eventually(async () => assert.deepEqual(await serviceOf('10.1.0.7', 80), ['shop', 'legacy-v2'], 'a slice whose Service is not listed (yet) still names it'));
  assert.equal(await serviceOf('10.96.0.5', 8080), undefined, 'an ExternalName Service has no ClusterIP');
});

/** Whether a flow to `dst`:80 comes out with its Service marked as routing by zone. */
async function topologyAware(dst: string): Promise<boolean | undefined> {
  const record: FlowRecord = { src: { address: '10.1.0.9', port: 40000 }, dst: { address: dst, port: 80 }, transport: 'tcp', ipFamily: 'ipv4', bytes: 100, packets: 1 };
  const before = h.out.batches.length;
  await h.processor.consume({ start: 0, end: 1, records: [record] });
  const [r] = h.out.batches.slice(before).flatMap((b) => b.records);
  assert.ok(r!.dst.service !== undefined, `${dst} backs a Service`);
  return r!.dst.serviceTopologyAware;
}

test('a Service that routes by zone is marked so: trafficDistribution, the topology-mode annotation, or zone hints on its EndpointSlice', async () => {
  assert.equal(await topologyAware('10.1.0.10'), true, 'spec.trafficDistribution: PreferClose');
  assert.equal(await topologyAware('10.1.0.11'), true, 'service.kubernetes.io/topology-mode: Auto');
  assert.equal(await topologyAware('10.1.0.12'), true, 'endpoints[].hints.forZones');
  assert.equal(await topologyAware('10.1.0.13'), false, 'none of them');
  assert.equal(await topologyAware('10.1.0.14'), false, 'topology-aware-hints: Disabled');
});

test('watch: routing by zone turned on and off is seen', async () => {
  server.store.modify('services', 'shop', 'plain', (svc: any) => {
    svc.spec.trafficDistribution = 'PreferSameZone';
  });
  await eventually(async () => assert.equal(await topologyAware('10.1.0.13'), true));
  server.store.modify('services', 'shop', 'web', (svc: any) => {
    delete svc.spec.trafficDistribution;
  });
  await eventually(async () => assert.equal(await topologyAware('10.1.0.10'), false));
  server.store.modify('endpointslices', 'shop', 'search-x', (slice: any) => {
    for (const e of slice.endpoints) delete e.hints;
  });
  await eventually(async () => assert.equal(await topologyAware('10.1.0.12'), false));
});
