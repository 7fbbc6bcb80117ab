/**
 * Fidelity of the fake API server: the real kubectl (get, -w, selectors,
 * chunking) and the protocol details zonetap's informers depend on
 * (resourceVersion resume, 410 Gone, bookmarks, selector enter/leave, restart).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { checkObject } from '../support/k8s-schema.ts';
import { FakeKubeApiServer, makeEndpointSlice, makeNode, makePod, makeService } from './index.ts';

const run = promisify(execFile);
const KUBECTL = 'kubectl'; // from PATH, as a user runs it
let server: FakeKubeApiServer;
let dir: string;
let kubeconfig: string;

async function kubectl(...args: string[]): Promise<string> {
  const { stdout } = await run(KUBECTL, ['--kubeconfig', kubeconfig, ...args], { timeout: 20_000 });
  return stdout;
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'zt-kube-api-'));
  server = new FakeKubeApiServer({ bookmarkIntervalMs: 200 });
  await server.start();
  kubeconfig = server.writeKubeconfig(join(dir, 'kubeconfig'));
  server.store.create('nodes', makeNode({ name: 'node-a', zone: 'zone-a', internalIPs: ['192.168.50.1'] }));
  server.store.create('nodes', makeNode({ name: 'node-b', zone: 'zone-b', internalIPs: ['192.168.50.2'] }));
  for (let i = 0; i < 7; i++) {
    server.store.create('pods', makePod({ namespace: i % 2 ? 'shop' : 'db', name: `pod-${i}`, node: i < 4 ? 'node-a' : 'node-b', ips: [`10.1.0.${i + 1}`], labels: { tier: i < 3 ? 'front' : 'back' } }));
  }
});

after(async () => {
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('kubectl get pods -A -o json lists every pod with the server resourceVersion', async () => {
  const list = JSON.parse(await kubectl('get', 'pods', '-A', '-o', 'json'));
  assert.equal(list.items.length, 7);
  assert.deepEqual(list.items.map((p: any) => p.metadata.name).sort(), ['pod-0', 'pod-1', 'pod-2', 'pod-3', 'pod-4', 'pod-5', 'pod-6']);
  assert.equal(list.items.find((p: any) => p.metadata.name === 'pod-3').status.podIP, '10.1.0.4');
});

test('kubectl get nodes prints the server-side Table', async () => {
  const out = await kubectl('get', 'nodes');
  assert.match(out, /^NAME\s+STATUS\s+ROLES\s+AGE\s+VERSION/);
  assert.match(out, /node-a\s+Ready\s+<none>\s+\S+\s+v1\.32\.0/);
  assert.match(out, /node-b\s+Ready/);
  const table = server.requests.findLast((r) => r.path === '/api/v1/nodes');
  assert.match(table!.accept, /as=Table/);
});

test('kubectl label and field selectors are applied by the server', async () => {
  const byLabel = await kubectl('get', 'pods', '-A', '-l', 'tier=front', '-o', 'name');
  assert.deepEqual(byLabel.trim().split('\n').sort(), ['pod/pod-0', 'pod/pod-1', 'pod/pod-2']);
  const setBased = await kubectl('get', 'pods', '-A', '-l', 'tier in (back),app!=pod-6', '-o', 'name');
  assert.deepEqual(setBased.trim().split('\n').sort(), ['pod/pod-3', 'pod/pod-4', 'pod/pod-5']);
  const byField = await kubectl('get', 'pods', '-A', '--field-selector', 'spec.nodeName=node-b,metadata.namespace=db', '-o', 'name');
  assert.deepEqual(byField.trim().split('\n').sort(), ['pod/pod-4', 'pod/pod-6']);
  await assert.rejects(kubectl('get', 'pods', '-A', '--field-selector', 'spec.bogus=1'), /field label not supported: spec\.bogus/);
});

test('kubectl --chunk-size pages through limit/continue', async () => {
  const out = await kubectl('get', 'pods', '-A', '--chunk-size', '2', '-o', 'name');
  assert.equal(out.trim().split('\n').length, 7);
  const pages = server.requests.filter((r) => r.path === '/api/v1/pods' && r.query.limit === '2');
  assert.equal(pages.length, 4);
  assert.ok(pages.slice(1).every((p) => p.query.continue));
});

test('kubectl get pods -w --output-watch-events sees adds and deletes as they happen', async () => {
  const child = spawn(KUBECTL, ['--kubeconfig', kubeconfig, 'get', 'pods', '-n', 'shop', '-w', '--output-watch-events', '--no-headers'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines = createInterface(child.stdout);
  const seen: string[] = [];
  const waitFor = (re: RegExp) =>
    new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no line matching ${re} in:\n${seen.join('\n')}`)), 15_000);
      const check = (line: string) => {
        seen.push(line);
        if (re.test(line)) {
          clearTimeout(timer);
          lines.off('line', check);
          resolve();
        }
      };
      for (const l of seen) if (re.test(l)) return (clearTimeout(timer), resolve());
      lines.on('line', check);
    });
  try {
    await waitFor(/^ADDED\s+pod-5\s/);
    server.store.create('pods', makePod({ namespace: 'shop', name: 'late', node: 'node-a', ips: ['10.1.0.99'] }));
    await waitFor(/^ADDED\s+late\s/);
    server.store.delete('pods', 'shop', 'late');
    await waitFor(/^DELETED\s+late\s/);
    server.store.create('pods', makePod({ namespace: 'db', name: 'other-namespace', node: 'node-a' }));
    server.store.create('pods', makePod({ namespace: 'shop', name: 'marker', node: 'node-a' }));
    await waitFor(/^ADDED\s+marker\s/);
    assert.ok(!seen.some((l) => l.includes('other-namespace')), 'a namespaced watch must not see other namespaces');
  } finally {
    child.kill();
  }
});

async function openWatch(path: string) {
  const res = await fetch(server.url + path);
  assert.equal(res.status, 200);
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let buffered = '';
  return {
    async next(): Promise<any> {
      for (;;) {
        const nl = buffered.indexOf('\n');
        if (nl >= 0) {
          const line = buffered.slice(0, nl);
          buffered = buffered.slice(nl + 1);
          return JSON.parse(line);
        }
        const { value, done } = await reader.read();
        if (done) return undefined;
        buffered += decoder.decode(value, { stream: true });
      }
    },
    cancel: () => reader.cancel(),
  };
}

test('watch resumes from a resourceVersion, sends bookmarks, and maps selector changes to ADDED/DELETED', async () => {
  const list: any = await (await fetch(`${server.url}/api/v1/pods?fieldSelector=spec.nodeName%3Dnode-b`)).json();
  const rv = list.metadata.resourceVersion;
  const watch = await openWatch(`/api/v1/pods?watch=1&resourceVersion=${rv}&allowWatchBookmarks=true&fieldSelector=spec.nodeName%3Dnode-b`);
  try {
    server.store.modify('pods', 'shop', 'pod-1', (p: any) => (p.spec.nodeName = 'node-b'));
    let e = await watch.next();
    assert.equal(e.type, 'ADDED', 'a pod that starts matching the selector arrives as ADDED');
    assert.equal(e.object.metadata.name, 'pod-1');
    server.store.modify('pods', 'shop', 'pod-1', (p: any) => (p.spec.nodeName = 'node-a'));
    e = await watch.next();
    assert.equal(e.type, 'DELETED', 'a pod that stops matching arrives as DELETED');
    e = await watch.next();
    assert.equal(e.type, 'BOOKMARK');
    assert.equal(e.object.metadata.resourceVersion, String(server.store.resourceVersion));
  } finally {
    await watch.cancel();
  }
});

test('a watch from a compacted resourceVersion gets a 410 Expired ERROR event; a chunked list with an expired token gets 410', async () => {
  const old = server.store.resourceVersion;
  const page: any = await (await fetch(`${server.url}/api/v1/pods?limit=1`)).json();
  server.store.create('pods', makePod({ namespace: 'shop', name: 'after-compaction-1' }));
  server.store.compact();
  const watch = await openWatch(`/api/v1/pods?watch=true&resourceVersion=${old}`);
  const e = await watch.next();
  assert.equal(e.type, 'ERROR');
  assert.equal(e.object.code, 410);
  assert.match(e.object.message, /too old resource version/);
  assert.equal(await watch.next(), undefined, 'the stream ends after the error');
  server.expireWatches();
  const res = await fetch(`${server.url}/api/v1/pods?limit=1&continue=${encodeURIComponent(page.metadata.continue)}`);
  assert.equal(res.status, 410);
  assert.equal(((await res.json()) as any).reason, 'Expired');
});

test('restart() drops open watches and serves the same objects on the same port', async () => {
  const port = server.port;
  const watch = await openWatch(`/api/v1/nodes?watch=1&resourceVersion=${server.store.resourceVersion}`);
  assert.equal(server.openWatches, 1);
  await server.restart();
  await assert.rejects(watch.next().then((v) => (v === undefined ? Promise.reject(new Error('ended')) : v)));
  assert.equal(server.port, port);
  const nodes = JSON.parse(await kubectl('get', 'nodes', '-o', 'json'));
  assert.equal(nodes.items.length, 2);
});

test('kubectl falls back to client-side columns when a server answers as=Table with plain JSON', async () => {
  const plain = new FakeKubeApiServer({ serverSideTables: false });
  await plain.start();
  try {
    plain.store.create('pods', makePod({ namespace: 'shop', name: 'only', node: 'node-a', ips: ['10.1.0.1'] }));
    const { stdout } = await run(KUBECTL, ['--kubeconfig', plain.writeKubeconfig(join(dir, 'plain')), 'get', 'pods', '-A'], { timeout: 20_000 });
    assert.match(stdout, /^NAMESPACE\s+NAME\s+AGE\nshop\s+only\s+\S+\n$/);
  } finally {
    await plain.stop();
  }
});

test('kubectl get services and endpointslices: columns, the service-name label selector, and watch events', async () => {
  server.store.create('services', makeService({ namespace: 'shop', name: 'cart', clusterIPs: ['10.96.0.10'], ports: [{ port: 8080 }, { port: 9090, protocol: 'UDP' }] }));
  server.store.create('services', makeService({ namespace: 'shop', name: 'cart-headless', type: 'headless', ports: [{ port: 8080 }] }));
  server.store.create('services', makeService({ namespace: 'shop', name: 'payments', type: 'ExternalName', externalName: 'pay.example.com' }));
  server.store.create('endpointslices', makeEndpointSlice({ namespace: 'shop', name: 'cart-x1', service: 'cart', endpoints: [{ address: '10.1.0.2', pod: 'pod-1' }, { address: '10.1.0.4', pod: 'pod-3' }], ports: [{ port: 8080 }] }));
  server.store.create('endpointslices', makeEndpointSlice({ namespace: 'shop', name: 'cart-headless-y2', service: 'cart-headless', endpoints: [{ address: '10.1.0.2', pod: 'pod-1' }] }));

  const services = await kubectl('get', 'services', '-n', 'shop');
  assert.match(services, /^NAME\s+TYPE\s+CLUSTER-IP\s+EXTERNAL-IP\s+PORT\(S\)\s+AGE/);
  assert.match(services, /\ncart\s+ClusterIP\s+10\.96\.0\.10\s+<none>\s+8080\/TCP,9090\/UDP\s/);
  assert.match(services, /\ncart-headless\s+ClusterIP\s+None\s/);
  assert.match(services, /\npayments\s+ExternalName\s+<none>\s+pay\.example\.com\s/);
  assert.deepEqual((await kubectl('get', 'svc', '-A', '-o', 'name')).trim().split('\n').sort(), ['service/cart', 'service/cart-headless', 'service/payments']);

  const slices = await kubectl('get', 'endpointslices', '-n', 'shop');
  assert.match(slices, /^NAME\s+ADDRESSTYPE\s+PORTS\s+ENDPOINTS\s+AGE/);
  assert.match(slices, /\ncart-x1\s+IPv4\s+8080\s+10\.1\.0\.2,10\.1\.0\.4\s/);
  assert.match(slices, /\ncart-headless-y2\s+IPv4\s+<unset>\s+10\.1\.0\.2\s/);
  const bySelector = JSON.parse(await kubectl('get', 'endpointslices.discovery.k8s.io', '-A', '-l', 'kubernetes.io/service-name=cart', '-o', 'json'));
  assert.deepEqual(bySelector.items.map((e: any) => e.metadata.name), ['cart-x1']);
  assert.equal(bySelector.items[0].apiVersion, 'discovery.k8s.io/v1');
  assert.deepEqual(bySelector.items[0].endpoints.map((e: any) => e.targetRef.name), ['pod-1', 'pod-3']);
  assert.ok(server.requests.some((r) => r.path === '/apis/discovery.k8s.io/v1/endpointslices' && r.query.labelSelector === 'kubernetes.io/service-name=cart'));

  const child = spawn(KUBECTL, ['--kubeconfig', kubeconfig, 'get', 'endpointslices', '-n', 'shop', '-w', '--output-watch-events', '--no-headers'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines = createInterface(child.stdout);
  const seen: string[] = [];
  lines.on('line', (line) => seen.push(line));
  const waitFor = (re: RegExp) =>
    new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no line matching ${re} in:\n${seen.join('\n')}`)), 15_000);
      const check = (line: string) => {
        if (!re.test(line)) return;
        clearTimeout(timer);
        lines.off('line', check);
        resolve();
      };
      if (seen.some((l) => re.test(l))) return (clearTimeout(timer), resolve());
      lines.on('line', check);
    });
  try {
    await waitFor(/^ADDED\s+cart-x1\s/);
    server.store.modify('endpointslices', 'shop', 'cart-x1', (e: any) => e.endpoints.push({ addresses: ['10.1.0.6'], conditions: { ready: true } }));
    await waitFor(/^MODIFIED\s+cart-x1\s+IPv4\s+8080\s+10\.1\.0\.2,10\.1\.0\.4,10\.1\.0\.6\s/);
    server.store.delete('endpointslices', 'shop', 'cart-headless-y2');
    await waitFor(/^DELETED\s+cart-headless-y2\s/);
  } finally {
    child.kill();
  }
});

test('kubectl reads a Service\'s trafficDistribution and topology annotation and an EndpointSlice\'s zone hints, all fields of the official API types', async () => {
  const svc = makeService({ namespace: 'zoned', name: 'web', clusterIPs: ['10.96.0.20'], ports: [{ port: 80 }], trafficDistribution: 'PreferClose', annotations: { 'service.kubernetes.io/topology-mode': 'Auto' } });
  const slice = makeEndpointSlice({ namespace: 'zoned', name: 'web-z1', service: 'web', endpoints: [{ address: '10.1.0.20', pod: 'web-0', zone: 'zone-a', hintZones: ['zone-a'] }], ports: [{ port: 80 }] });
  assert.deepEqual(checkObject({ apiVersion: 'v1', kind: 'Service', ...svc }), []);
  assert.deepEqual(checkObject({ apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', ...slice }), []);
  server.store.create('services', svc);
  server.store.create('endpointslices', slice);
  assert.equal(await kubectl('get', 'service', 'web', '-n', 'zoned', '-o', 'jsonpath={.spec.trafficDistribution} {.metadata.annotations.service\\.kubernetes\\.io/topology-mode}'), 'PreferClose Auto');
  assert.equal(await kubectl('get', 'endpointslice', 'web-z1', '-n', 'zoned', '-o', 'jsonpath={.endpoints[0].hints.forZones[0].name}'), 'zone-a');
});
