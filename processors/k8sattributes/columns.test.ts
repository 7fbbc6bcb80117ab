/**
 * k8sattributes on columns (columnar.ts) against the records path: random
 * batches through two processors built alike, one fed records and one fed
 * the same flows as columns (the harness makes a ColumnBatch, as the kernel
 * receivers hand them on), give the same records out, batch for batch (the columns turned
 * into records), the same stats and the same flows held. The batches cover
 * pods, hostNetwork pods, nodes, Services by port and transport (one per
 * address and several), ClusterIPs, external blocks (inventory and config),
 * unknown addresses in and out of pod CIDRs, ignored namespaces, pod UIDs
 * (cgroup receiver), ends an upstream hop named, overflow rows, IPv6, and
 * classes and ignored flags already set.
 *
 * The other tests of this folder that feed batches run again in a child
 * process with ZT_K8SATTRIBUTES_INPUT=columns: their harness then hands the
 * processor columns (test/support/k8sattributes.ts).
 *
 * Agents whose directory does not know every pod (the unknown_source rule)
 * are a kubernetes source that is never started, its directory filled here
 * through the calls the source makes; the rest are static inventories.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { ColumnBatch, columnsFromRecords } from '../../pipeline/columns.ts';
import { OVERFLOW_TRANSPORT, type FlowBatch, type FlowEndpoint, type FlowRecord } from '../../pipeline/flow.ts';
import { parseCidr } from '../../net/index.ts';
import { harness, type Harness } from '../../test/support/k8sattributes.ts';
import { SeededRandom } from '../../test/support/fuzz.ts';
import type { AddressDirectory } from './directory.ts';

const dir = mkdtempSync(join(tmpdir(), 'zt-k8sattr-columns-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const UID = {
  api0: '0a1b2c3d-4e5f-4a7b-8c9d-0e1f2a3b4c01',
  logger0: '0a1b2c3d-4e5f-4a7b-8c9d-0e1f2a3b4c02',
  proxyA: '0a1b2c3d-4e5f-4a7b-8c9d-0e1f2a3b4c03',
  proxyC: '0a1b2c3d-4e5f-4a7b-8c9d-0e1f2a3b4c04',
  /** No pod's. */
  gone: '0a1b2c3d-4e5f-4a7b-8c9d-0e1f2a3b4c05',
};

const nodes = [
  { name: 'node-a', zone: 'zone-a', region: 'region-1', addresses: ['192.168.50.1', 'fd00:50::1'], podCIDRs: ['10.1.0.0/24', 'fd01::/64'] },
  { name: 'node-b', zone: 'zone-b', region: 'region-1', addresses: ['192.168.50.2'], podCIDRs: ['10.2.0.0/24'] },
  { name: 'node-c', zone: 'zone-c', region: 'region-2', addresses: ['192.168.50.3'], podCIDRs: [] as string[] },
];
const namespaces = [
  { name: 'shop', labels: { team: 'commerce' } },
  { name: 'audit', annotations: { 'zonetap.io/ignore': 'true' } },
];
interface Pod {
  namespace: string;
  name: string;
  node: string;
  addresses: string[];
  workload?: { kind: string; name: string };
  uid?: string;
  hostNetwork?: boolean;
  labels?: Record<string, string>;
}
const pods: Pod[] = [
  { namespace: 'shop', name: 'api-0', workload: { kind: 'Deployment', name: 'api' }, node: 'node-a', addresses: ['10.1.0.5', 'fd01::5'], uid: UID.api0, labels: { team: 'checkout' } },
  { namespace: 'shop', name: 'api-1', workload: { kind: 'Deployment', name: 'api' }, node: 'node-b', addresses: ['10.2.0.5'] },
  { namespace: 'shop', name: 'db-0', workload: { kind: 'StatefulSet', name: 'db' }, node: 'node-b', addresses: ['10.2.0.7'] },
  { namespace: 'audit', name: 'logger-0', workload: { kind: 'Deployment', name: 'logger' }, node: 'node-a', addresses: ['10.1.0.9'], uid: UID.logger0 },
  { namespace: 'audit', name: 'logger-1', workload: { kind: 'Deployment', name: 'logger' }, node: 'node-c', addresses: ['10.3.0.9'] },
  { namespace: 'kube-system', name: 'kube-proxy-a', workload: { kind: 'DaemonSet', name: 'kube-proxy' }, node: 'node-a', addresses: ['192.168.50.1'], uid: UID.proxyA, hostNetwork: true },
  { namespace: 'kube-system', name: 'kube-proxy-c', workload: { kind: 'DaemonSet', name: 'kube-proxy' }, node: 'node-c', addresses: ['192.168.50.3'], uid: UID.proxyC, hostNetwork: true },
  { namespace: 'default', name: 'bare-0', node: 'node-c', addresses: ['10.3.0.10'] },
  ...Array.from({ length: 9 }, (_, i): Pod => {
    const node = nodes[i % 3]!;
    return { namespace: 'shop', name: `web-${i}`, workload: { kind: 'Deployment', name: 'web' }, node: node.name, addresses: [`10.${(i % 3) + 1}.0.${20 + i}`] };
  }),
];
/** A pod that appears halfway through (kubernetes source only): held flows from its address then resolve. */
const latePod: Pod = { namespace: 'shop', name: 'late-0', workload: { kind: 'Deployment', name: 'late' }, node: 'node-a', addresses: ['10.1.0.200'] };

const inventoryFile = join(dir, 'inventory.yaml');
writeFileSync(
  inventoryFile,
  stringify({ nodes, namespaces, pods, external: [{ name: 'cloud-sql', cidrs: ['10.200.0.0/24'], zone: 'zone-b', region: 'region-1', kind: 'managed_service' }] }),
);
const externalConfig = [{ name: 'partner', cidrs: ['172.20.0.0/16', '2600:1::/32'], region: 'region-2', kind: 'peered_vpc' }];

/** What the kubernetes source would have put in the directory for the pods, nodes and namespaces above. */
function fill(directory: AddressDirectory, list: readonly Pod[]): void {
  directory.upsertNamespace('shop', undefined, false);
  directory.upsertNamespace('audit', undefined, true);
  for (const n of nodes) directory.upsertNode(n.name, n.zone, n.region, n.addresses, n.podCIDRs.map((c) => parseCidr(c)!));
  list.forEach((p, i) => {
    const workload = p.workload && directory.workload(p.namespace, p.workload.kind, p.workload.name);
    directory.upsertPod({ namespace: p.namespace, name: p.name, uid: p.uid, nodeName: p.node, workload, hostNetwork: p.hostNetwork === true, addresses: p.addresses, created: i });
  });
}

/** Services as the EndpointSlice and Service watches put them: api-0 and api-1 back Services on several ports; ClusterIP 10.96.0.5. */
function addServices(directory: AddressDirectory): void {
  const services = directory.services;
  services.upsertService('shop', 'api', 1, false, ['10.96.0.5'], true);
  services.upsertSlice('shop', 'api-x', 'api', ['10.1.0.5', '10.2.0.5', 'fd01::5'], [{ port: 8080, transport: 'tcp' }]);
  services.upsertService('shop', 'api-metrics', 2, false, ['10.96.0.6']);
  services.upsertSlice('shop', 'api-metrics-x', 'api-metrics', ['10.1.0.5'], [{ port: 9090, transport: 'tcp' }]);
  services.upsertService('shop', 'api-dns', 3, false, []);
  services.upsertSlice('shop', 'api-dns-x', 'api-dns', ['10.2.0.5'], [{ port: 53, transport: 'udp' }]);
  services.upsertSlice('shop', 'db-x', 'db', ['10.2.0.7'], undefined);
  services.upsertSlice('audit', 'logger-x', 'logger', ['10.1.0.9'], [{ port: 8080, transport: 'tcp' }]);
  services.upsertSlice('shop', 'web-x', 'web', pods.filter((p) => p.name.startsWith('web-')).flatMap((p) => p.addresses), [{ port: 443, transport: 'tcp' }]);
}

const addresses = [
  ...pods.flatMap((p) => p.addresses),
  ...nodes.flatMap((n) => n.addresses),
  '10.96.0.5', // a ClusterIP
  '10.200.0.7', // cloud-sql (inventory)
  '172.20.1.1', // partner (config), IPv4 and IPv6
  '2600:1::9',
  '10.1.0.200', // no pod (yet), in node-a's pod CIDR
  '10.2.0.200', // in node-b's
  'fd01::200', // in node-a's, IPv6
  '10.3.0.200', // in no pod CIDR
  '34.1.2.3', // the internet
  '2a00:1450::1',
];

function end(rnd: SeededRandom): FlowEndpoint {
  const ep: FlowEndpoint = { address: rnd.pick(addresses), port: 0 };
  const k = rnd.next();
  if (k < 0.15) ep.podUid = rnd.pick(Object.values(UID));
  else if (k < 0.2) Object.assign(ep, { zone: 'zone-b', region: 'region-1' });
  // An agent named this end a hostNetwork pod by its UID; a gateway knows only its address (node-a's).
  else if (k < 0.25) Object.assign(ep, { address: '192.168.50.1', namespace: 'kube-system', pod: 'kube-proxy-a', workloadKind: 'DaemonSet', workloadName: 'kube-proxy', node: 'node-a', zone: 'zone-a', hostNetwork: true });
  return ep;
}

const PORTS = [0, 53, 443, 5432, 8080, 9090, 40000, 51234];

function randomRecords(rnd: SeededRandom, n: number): FlowRecord[] {
  return Array.from({ length: n }, (): FlowRecord => {
    const bytes = rnd.int(1, 1_000_000);
    const packets = rnd.int(1, 1000);
    if (rnd.next() < 0.05) {
      const src: FlowEndpoint = { address: '', port: 0 };
      if (rnd.next() < 0.3) src.podUid = rnd.pick(Object.values(UID));
      return { src, dst: { address: '', port: 0 }, transport: OVERFLOW_TRANSPORT, ipFamily: rnd.pick(['ipv4', 'ipv6'] as const), bytes, packets };
    }
    const src = { ...end(rnd), port: rnd.pick(PORTS) };
    const dst = { ...end(rnd), port: rnd.pick(PORTS) };
    const r: FlowRecord = { src, dst, transport: rnd.pick(['tcp', 'tcp', 'udp', 'icmp']), ipFamily: src.address.includes(':') ? 'ipv6' : 'ipv4', bytes, packets };
    if (rnd.next() < 0.1) r.trafficClass = 'cross_zone';
    if (rnd.next() < 0.05) r.ignored = true;
    return r;
  });
}

/** A record as compared: no identity (a process-wide counter, different in each processor), no undefined fields, `ignored` only when true. */
function comparable(r: FlowRecord): unknown {
  const ep = ({ identity: _, ...rest }: FlowEndpoint) => JSON.parse(JSON.stringify(rest));
  const { src, dst, ignored, ...rest } = r;
  return { ...JSON.parse(JSON.stringify(rest)), src: ep(src), dst: ep(dst), ...(ignored === true ? { ignored } : {}) };
}

function output(h: Harness): unknown[] {
  return h.out.batches.map((b: FlowBatch) => ({ start: b.start, end: b.end, records: b.records.map(comparable) }));
}

interface Scenario {
  name: string;
  config: Record<string, unknown>;
  /** A kubernetes source never started (it does not know every pod), filled by fill(). */
  unstarted?: boolean;
}

const scenarios: Scenario[] = [
  { name: 'agent on node-a, static, a small hold', config: { source: 'static', inventory: inventoryFile, node_name: 'node-a', max_held_records: 25, pod_labels: ['team'], namespace_labels: ['team'] } },
  { name: 'agent on node-c (no pod CIDRs), static, external blocks configured', config: { source: 'static', inventory: inventoryFile, node_name: 'node-c', external: externalConfig } },
  { name: 'gateway, static, nothing held', config: { source: 'static', inventory: inventoryFile, max_held_records: 0, external: externalConfig } },
  { name: 'agent on node-c, a source that does not know every pod', config: { node_name: 'node-c', max_held_records: 40 }, unstarted: true },
  { name: 'agent on node-b, a source that does not know every pod', config: { node_name: 'node-b' }, unstarted: true },
  { name: 'gateway, a source that does not know every pod', config: { max_held_records: 1000 }, unstarted: true },
];

for (const [n, scenario] of scenarios.entries()) {
  test(`columns give what records give: ${scenario.name}`, async () => {
    const byRecords = harness(scenario.config, { columns: false });
    const byColumns = harness(scenario.config, { columns: true });
    for (const h of [byRecords, byColumns]) {
      if (scenario.unstarted) fill(h.processor.directory!, pods);
      else await h.processor.start();
      addServices(h.processor.directory!);
    }
    const rnd = new SeededRandom(1000 + n);
    let rows = 0;
    let columnBatches = 0;
    for (let b = 0; b < 12; b++) {
      if (b === 6 && scenario.unstarted) for (const h of [byRecords, byColumns]) fill(h.processor.directory!, [...pods, latePod]);
      const records = randomRecords(rnd, rnd.int(100, 400));
      rows += records.length;
      // Columns first: the records path changes the batch's array in place.
      await byColumns.processor.consume({ start: b * 10, end: b * 10 + 10, records });
      await byRecords.processor.consume({ start: b * 10, end: b * 10 + 10, records });
      if (byColumns.out.batches.at(-1)!.columns !== undefined) columnBatches++;
      assert.deepEqual(byColumns.processor.stats, byRecords.processor.stats, `stats after batch ${b}`);
      assert.equal(byColumns.processor.heldRecords, byRecords.processor.heldRecords, `held after batch ${b}`);
      assert.equal(byColumns.processor.heldBytes, byRecords.processor.heldBytes, `held bytes after batch ${b}`);
    }
    assert.deepEqual(output(byColumns), output(byRecords));
    await byRecords.processor.shutdown();
    await byColumns.processor.shutdown();
    assert.deepEqual(output(byColumns), output(byRecords), 'held flows passed on at shutdown');
    assert.deepEqual(byColumns.processor.stats, byRecords.processor.stats);
    // The batches exercised what they are meant to (a test that cannot fail is not a test).
    const stats = byRecords.processor.stats;
    assert.ok(rows > 1000);
    assert.equal(columnBatches, 12, 'each batch leaves k8sattributes as columns');
    assert.ok(stats.unresolvedDstBytes > 0 && stats.ignoredRecords > 0, JSON.stringify(stats));
    if (scenario.config.node_name !== undefined) assert.ok(stats.droppedForwardedFlows > 0, JSON.stringify(stats));
    if (scenario.unstarted && scenario.config.node_name === 'node-c') assert.ok(stats.droppedUnknownSourceFlows > 0, JSON.stringify(stats));
    if (scenario.config.max_held_records !== 0) assert.ok(stats.heldRecords > 0, JSON.stringify(stats));
  });
}

test('columns: a destination backing Services on several ports is named per port and transport, once each', async () => {
  const h = harness({ source: 'static', inventory: inventoryFile }, { columns: false });
  await h.processor.start();
  addServices(h.processor.directory!);
  const records: FlowRecord[] = [8080, 9090, 8080, 22, 9090].map((port) => ({ src: { address: '10.2.0.7', port: 40000 }, dst: { address: '10.1.0.5', port }, transport: 'tcp', ipFamily: 'ipv4', bytes: 10, packets: 1 }));
  records.push({ src: { address: '10.2.0.7', port: 40000 }, dst: { address: '10.2.0.7', port: 5432 }, transport: 'tcp', ipFamily: 'ipv4', bytes: 10, packets: 1 });
  const batch = new ColumnBatch(0, 1, columnsFromRecords(records));
  await h.processor.consume(batch);
  const columns = batch.columns!;
  // One source end (db-0), db-0 as a destination (one Service whatever the port), api-0 per Service: api (8080), api-metrics (9090), and the oldest for port 22.
  assert.deepEqual(
    columns.ends.map((e) => [e.workloadName, e.service]),
    [
      ['db', undefined],
      ['api', 'api'],
      ['api', 'api-metrics'],
      ['api', 'api'],
      ['db', 'db'],
    ],
  );
  assert.deepEqual(Array.from(columns.dst.subarray(0, columns.length)), [1, 2, 1, 3, 2, 4]);
  await h.processor.shutdown();
});

test('columns: a pod that is a source and a destination is one end for both, unless its Service names one side', async () => {
  const h = harness({ source: 'static', inventory: inventoryFile }, { columns: false });
  await h.processor.start();
  addServices(h.processor.directory!);
  const flow = (src: string, dst: string): FlowRecord => ({ src: { address: src, port: 40000 }, dst: { address: dst, port: 5432 }, transport: 'tcp', ipFamily: 'ipv4', bytes: 10, packets: 1 });
  // bare-0 and 192.168.50.2 (node-b) back no Service; db-0 backs "db".
  const batch = new ColumnBatch(0, 1, columnsFromRecords([flow('10.3.0.10', '192.168.50.2'), flow('192.168.50.2', '10.3.0.10'), flow('10.2.0.7', '10.3.0.10'), flow('10.3.0.10', '10.2.0.7')]));
  await h.processor.consume(batch);
  const columns = batch.columns!;
  assert.deepEqual(columns.ends.map((e) => [e.workloadName, e.service]), [
    ['bare-0', undefined],
    ['node-b', undefined],
    ['db', undefined],
    ['db', 'db'],
  ]);
  assert.deepEqual([Array.from(columns.src.subarray(0, 4)), Array.from(columns.dst.subarray(0, 4))], [
    [0, 1, 2, 0],
    [1, 0, 0, 3],
  ]);
  await h.processor.shutdown();
});

/** The tests of this folder that name flows through the harness (the rest check config, credentials, readiness, or a whole service). */
const FEEDING = ['static', 'labels', 'pod-uid', 'resolve-wait', 'new-pods', 'external', 'services', 'kubernetes', 'sidecar'];

test('the k8sattributes tests that feed batches pass with every batch handed over as columns', async () => {
  const files = FEEDING.map((name) => join(import.meta.dirname, `${name}.test.ts`));
  // Without NODE_TEST_CONTEXT, which the runner running this file sets: the child is a test run of its own.
  const { NODE_TEST_CONTEXT: _, ...env } = process.env;
  const child = spawn(process.execPath, ['--test', '--test-force-exit', '--test-concurrency=1', '--test-reporter=tap', ...files], {
    env: { ...env, ZT_K8SATTRIBUTES_INPUT: 'columns' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let tap = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (tap += chunk));
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
  const count = (what: string) => Number(new RegExp(`^# ${what} (\\d+)$`, 'm').exec(tap)?.[1]);
  assert.equal(count('fail'), 0, tap.split('\n').filter((l) => l.startsWith('not ok') || l.includes('# Subtest')).join('\n'));
  assert.equal(code, 0);
  assert.ok(count('pass') >= 60, `only ${count('pass')} tests passed`);
});
