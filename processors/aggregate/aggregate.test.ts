import { test } from 'node:test';
import assert from 'node:assert/strict';
import { columnsFromRecords, newColumns } from '../../pipeline/columns.ts';
import { fanout } from '../../pipeline/fanout.ts';
import type { FlowEndpoint, FlowRecord } from '../../pipeline/flow.ts';
import { fuzzSeed, SeededRandom } from '../../test/support/fuzz.ts';
import { bothForms, randomEnds, randomFlows } from '../../test/support/random-flows.ts';
import { NO_DEADLINE } from '../../pipeline/lifecycle.ts';
import { configProblems, RecordingConsumer, testSettings } from '../../test/support/components.ts';
import { RollUp, aggregateProcessorFactory, rollUp, rollUpEndpoint, type AggregationLevel } from './index.ts';
import { replayReceiverFactory } from '../../receivers/replay/index.ts';
import { flowlogExporterFactory } from '../../exporters/flowlog/index.ts';
import { crosszoneProcessorFactory } from '../../processors/crosszone/index.ts';
import { costProcessorFactory } from '../../processors/cost/index.ts';
import { join } from 'node:path';

function processor(config: Record<string, unknown> = {}) {
  const next = new RecordingConsumer();
  const p = aggregateProcessorFactory.create(testSettings('aggregate', 'processor'), aggregateProcessorFactory.configSchema.parse(config), next);
  return { p, next };
}

const api1: FlowEndpoint = { address: '10.1.0.5', port: 43122, namespace: 'shop', pod: 'api-1', workloadKind: 'Deployment', workloadName: 'api', node: 'node-a', zone: 'zone-a', region: 'r1' };
const api2: FlowEndpoint = { address: '10.1.0.6', port: 43999, namespace: 'shop', pod: 'api-2', workloadKind: 'Deployment', workloadName: 'api', node: 'node-b', zone: 'zone-a', region: 'r1' };
const db0: FlowEndpoint = { address: '10.2.0.7', port: 5432, namespace: 'shop', pod: 'db-0', workloadKind: 'StatefulSet', workloadName: 'db', node: 'node-c', zone: 'zone-b', region: 'r1' };
const db1: FlowEndpoint = { address: '10.2.0.8', port: 5432, namespace: 'shop', pod: 'db-1', workloadKind: 'StatefulSet', workloadName: 'db', node: 'node-d', zone: 'zone-b', region: 'r1' };
const web: FlowEndpoint = { address: '10.1.0.9', port: 40000, namespace: 'front', pod: 'web-1', workloadKind: 'Deployment', workloadName: 'web', node: 'node-a', zone: 'zone-a', region: 'r1' };

function flow(src: FlowEndpoint, dst: FlowEndpoint, bytes: number, extra: Partial<FlowRecord> = {}): FlowRecord {
  return { src: { ...src }, dst: { ...dst }, transport: 'tcp', ipFamily: 'ipv4', bytes, packets: 1, trafficClass: src.zone === dst.zone ? 'same_zone' : 'cross_zone', ...extra };
}

const records = (): FlowRecord[] => [
  flow(api1, db0, 100, { costUsd: 0.5 }),
  flow(api2, db1, 200, { costUsd: 0.25 }),
  flow(api1, { ...db0, port: 5433 }, 1000),
  flow(web, db0, 7),
  flow(api1, { address: '8.8.8.8', port: 443 }, 50, { trafficClass: 'internet' }),
  flow(api2, { address: '1.1.1.1', port: 443 }, 60, { trafficClass: 'internet' }),
  flow(api1, db0, 3, { transport: 'udp' }),
];

test('config: defaults and bad values', () => {
  assert.deepEqual(aggregateProcessorFactory.configSchema.parse({}), { by: 'workload' });
  assert.equal(processor().p.capabilities.mutatesData, true, 'changes batches in place: fan-out hands it a batch of its own');
  const bad = (input: unknown) => aggregateProcessorFactory.configSchema.safeParse(input).error!.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
  assert.deepEqual(bad({ by: 'deployment' }), ['by: unknown level "deployment": expected pod, workload or namespace']);
  assert.deepEqual(bad({ by: 'workload', keep_ports: true }), [': Unrecognized key: "keep_ports"']);
});

test('lifecycle: create -> shutdown, and start -> shutdown twice', async () => {
  await processor().p.shutdown(NO_DEADLINE);
  const { p, next } = processor();
  await p.start(NO_DEADLINE);
  await p.consume({ start: 0, end: 1, records: records() });
  await p.shutdown(NO_DEADLINE);
  await p.shutdown(NO_DEADLINE);
  assert.equal(next.batches.length, 1);
});

test('by workload: pods, nodes and ports dropped, zones kept, sums exact', async () => {
  const { p, next } = processor({ by: 'workload' });
  await p.consume({ start: 5, end: 6, records: records() });
  const [batch] = next.batches;
  assert.equal(batch!.start, 5);
  const api = { address: '', port: 0, namespace: 'shop', workloadKind: 'Deployment', workloadName: 'api', zone: 'zone-a', region: 'r1' };
  const dbWorkload = { address: '', port: 0, namespace: 'shop', workloadKind: 'StatefulSet', workloadName: 'db', zone: 'zone-b', region: 'r1' };
  assert.deepEqual(batch!.records, [
    { src: api, dst: dbWorkload, transport: 'tcp', ipFamily: 'ipv4', bytes: 1300, packets: 3, trafficClass: 'cross_zone', costUsd: 0.75 },
    { src: { address: '', port: 0, namespace: 'front', workloadKind: 'Deployment', workloadName: 'web', zone: 'zone-a', region: 'r1' }, dst: dbWorkload, transport: 'tcp', ipFamily: 'ipv4', bytes: 7, packets: 1, trafficClass: 'cross_zone' },
    { src: api, dst: { address: '', port: 0 }, transport: 'tcp', ipFamily: 'ipv4', bytes: 110, packets: 2, trafficClass: 'internet' },
    { src: api, dst: dbWorkload, transport: 'udp', ipFamily: 'ipv4', bytes: 3, packets: 1, trafficClass: 'cross_zone' },
  ]);
});

test('by workload: replicas in different zones stay apart', () => {
  const apiB = { ...api2, zone: 'zone-b' };
  const out = rollUp([flow(api1, db0, 1), flow(apiB, db0, 2), flow(api2, db0, 4)], 'workload');
  assert.deepEqual(
    out.map((r) => [r.src.zone, r.trafficClass, r.bytes]),
    [
      ['zone-a', 'cross_zone', 5],
      ['zone-b', 'same_zone', 2],
    ],
  );
});

test('by pod: pods kept with their nodes, ports and pod addresses dropped, internet addresses kept', () => {
  const out = rollUp(records(), 'pod');
  assert.deepEqual(
    out.map((r) => [r.src.pod, r.src.address, r.src.port, r.dst.pod ?? r.dst.address, r.dst.node, r.transport, r.bytes]),
    [
      ['api-1', '', 0, 'db-0', 'node-c', 'tcp', 1100],
      ['api-2', '', 0, 'db-1', 'node-d', 'tcp', 200],
      ['web-1', '', 0, 'db-0', 'node-c', 'tcp', 7],
      ['api-1', '', 0, '8.8.8.8', undefined, 'tcp', 50],
      ['api-2', '', 0, '1.1.1.1', undefined, 'tcp', 60],
      ['api-1', '', 0, 'db-0', 'node-c', 'udp', 3],
    ],
  );
});

test('by namespace: only namespace, zone and region are left', () => {
  const out = rollUp(records(), 'namespace');
  assert.deepEqual(out, [
    { src: { address: '', port: 0, namespace: 'shop', zone: 'zone-a', region: 'r1' }, dst: { address: '', port: 0, namespace: 'shop', zone: 'zone-b', region: 'r1' }, transport: 'tcp', ipFamily: 'ipv4', bytes: 1300, packets: 3, trafficClass: 'cross_zone', costUsd: 0.75 },
    { src: { address: '', port: 0, namespace: 'front', zone: 'zone-a', region: 'r1' }, dst: { address: '', port: 0, namespace: 'shop', zone: 'zone-b', region: 'r1' }, transport: 'tcp', ipFamily: 'ipv4', bytes: 7, packets: 1, trafficClass: 'cross_zone' },
    { src: { address: '', port: 0, namespace: 'shop', zone: 'zone-a', region: 'r1' }, dst: { address: '', port: 0 }, transport: 'tcp', ipFamily: 'ipv4', bytes: 110, packets: 2, trafficClass: 'internet' },
    { src: { address: '', port: 0, namespace: 'shop', zone: 'zone-a', region: 'r1' }, dst: { address: '', port: 0, namespace: 'shop', zone: 'zone-b', region: 'r1' }, transport: 'udp', ipFamily: 'ipv4', bytes: 3, packets: 1, trafficClass: 'cross_zone' },
  ]);
});

test('rollUpEndpoint: nodes, hostNetwork pods and unnamed ends', () => {
  const node: FlowEndpoint = { address: '192.168.0.10', port: 10250, node: 'node-a', zone: 'zone-a', region: 'r1' };
  const hostPod: FlowEndpoint = { address: '192.168.0.10', port: 9100, namespace: 'mon', pod: 'exporter-x', workloadKind: 'DaemonSet', workloadName: 'exporter', node: 'node-a', hostNetwork: true, zone: 'zone-a' };
  const external: FlowEndpoint = { address: '10.50.0.3', port: 5432, workloadKind: 'External', workloadName: 'cloudsql', zone: 'zone-b' };
  const unnamed: FlowEndpoint = { address: '10.9.9.9', port: 53, zone: 'zone-c' };
  for (const level of ['pod', 'workload', 'namespace'] as AggregationLevel[]) {
    assert.deepEqual(rollUpEndpoint(node, level), { address: '', port: 0, node: 'node-a', zone: 'zone-a', region: 'r1' }, level);
  }
  assert.deepEqual(rollUpEndpoint(hostPod, 'workload'), { address: '', port: 0, namespace: 'mon', workloadKind: 'DaemonSet', workloadName: 'exporter', hostNetwork: true, zone: 'zone-a' });
  assert.deepEqual(rollUpEndpoint(hostPod, 'namespace'), { address: '', port: 0, namespace: 'mon', zone: 'zone-a' });
  assert.deepEqual(rollUpEndpoint(external, 'workload'), { address: '', port: 0, workloadKind: 'External', workloadName: 'cloudsql', zone: 'zone-b' });
  assert.deepEqual(rollUpEndpoint(unnamed, 'pod'), { address: '10.9.9.9', port: 0, zone: 'zone-c' });
  assert.deepEqual(rollUpEndpoint(unnamed, 'workload'), { address: '', port: 0, zone: 'zone-c' });
});

test('an address reused by another pod within a batch is not merged with the first pod', () => {
  const reused = { ...db0, pod: 'db-9', node: 'node-x', zone: 'zone-c' };
  const out = rollUp([flow(api1, db0, 1), flow(api1, reused, 2), flow(api1, db0, 4), flow(api1, reused, 8)], 'pod');
  assert.deepEqual(
    out.map((r) => [r.dst.pod, r.dst.zone, r.bytes]),
    [
      ['db-0', 'zone-b', 5],
      ['db-9', 'zone-c', 10],
    ],
  );
});

test('IPv4 and IPv6 flows and traffic classes stay apart; the input records are left alone; the shared output ends cannot be changed', () => {
  const input = [flow(api1, db0, 1), flow({ ...api1, address: 'fd00::5' }, { ...db0, address: 'fd00::7' }, 2, { ipFamily: 'ipv6' }), flow(api1, db0, 4, { trafficClass: 'unknown' })];
  const before = structuredClone(input);
  const out = rollUp(input, 'workload');
  assert.deepEqual(
    out.map((r) => [r.ipFamily, r.trafficClass, r.bytes]),
    [
      ['ipv4', 'cross_zone', 1],
      ['ipv6', 'cross_zone', 2],
      ['ipv4', 'unknown', 4],
    ],
  );
  assert.deepEqual(input, before);
  // Records of one group's ends share one frozen endpoint: changing it throws instead of changing the others.
  assert.equal(out[0]!.src, out[2]!.src);
  assert.throws(() => {
    out[0]!.src.namespace = 'changed';
  }, TypeError);
  assert.equal(out[2]!.src.namespace, 'shop');
});

test('every traffic class stays apart, and so does a class value zonetap does not know (read from OTLP)', () => {
  const classes = ['same_zone', 'same_region', 'cross_zone', 'cross_region', 'internet', 'unknown', undefined, 'interplanetary', 'other'] as const;
  const input = classes.map((trafficClass, i) => {
    const r = flow(api1, db0, 2 ** i);
    if (trafficClass === undefined) delete r.trafficClass;
    else r.trafficClass = trafficClass as FlowRecord['trafficClass'];
    return r;
  });
  const out = rollUp([...input, ...input], 'workload');
  assert.deepEqual(
    out.map((r) => [r.trafficClass, r.bytes]),
    classes.map((c, i) => [c, 2 * 2 ** i]),
  );
});

/**
 * README.md's table of what each level keeps, written out again here (not
 * rollUpEndpoint(), which the reference would otherwise share with the code
 * under test): a named end keeps namespace, zone and region at every level,
 * pod and node at pod level, workload and hostNetwork at pod and workload
 * level, Service and chosen labels at every level; an end known only by its
 * node keeps the node; an unnamed end keeps its address at pod level only.
 * Addresses and ports go.
 */
function referenceEndpoint(ep: FlowEndpoint, level: AggregationLevel): FlowEndpoint {
  const kept: FlowEndpoint = { address: '', port: 0 };
  const named = ep.namespace !== undefined || ep.pod !== undefined || ep.workloadName !== undefined || ep.node !== undefined;
  const onlyNode = named && ep.namespace === undefined && ep.workloadName === undefined;
  if (!named) {
    if (level === 'pod') kept.address = ep.address;
  } else if (onlyNode) {
    kept.node = ep.node;
  } else {
    if (ep.namespace !== undefined) kept.namespace = ep.namespace;
    if (level === 'pod' && ep.pod !== undefined) kept.pod = ep.pod;
    if (level !== 'namespace' && ep.workloadKind !== undefined) kept.workloadKind = ep.workloadKind;
    if (level !== 'namespace' && ep.workloadName !== undefined) kept.workloadName = ep.workloadName;
    if (level === 'pod' && ep.node !== undefined) kept.node = ep.node;
    if (level !== 'namespace' && ep.hostNetwork === true) kept.hostNetwork = true;
    if (ep.service !== undefined) kept.service = ep.service;
    if (ep.serviceNamespace !== undefined) kept.serviceNamespace = ep.serviceNamespace;
    if (ep.podLabels !== undefined) kept.podLabels = ep.podLabels;
    if (ep.namespaceLabels !== undefined) kept.namespaceLabels = ep.namespaceLabels;
  }
  if (ep.zone !== undefined) kept.zone = ep.zone;
  if (ep.region !== undefined) kept.region = ep.region;
  return kept;
}

function sorted(labels: Readonly<Record<string, string>> | undefined): [string, string][] | undefined {
  return labels === undefined ? undefined : Object.entries(labels).sort(([a], [b]) => a.localeCompare(b));
}

/** The obvious implementation, for comparison on many random records. */
function referenceRollUp(input: FlowRecord[], level: AggregationLevel): FlowRecord[] {
  const groups = new Map<string, FlowRecord>();
  for (const r of input) {
    const src = referenceEndpoint(r.src, level);
    const dst = referenceEndpoint(r.dst, level);
    // Label sets are equal whatever the order of their keys.
    const canonical = (ep: FlowEndpoint) => ({ ...ep, podLabels: sorted(ep.podLabels), namespaceLabels: sorted(ep.namespaceLabels) });
    const key = JSON.stringify([canonical(src), canonical(dst), r.transport, r.ipFamily, r.trafficClass ?? null, r.ignored === true]);
    const g = groups.get(key);
    if (g) {
      g.bytes += r.bytes;
      g.packets += r.packets;
      if (r.costUsd !== undefined) g.costUsd = (g.costUsd ?? 0) + r.costUsd;
    } else {
      const out: FlowRecord = { src, dst, transport: r.transport, ipFamily: r.ipFamily, bytes: r.bytes, packets: r.packets };
      if (r.trafficClass) out.trafficClass = r.trafficClass;
      if (r.ignored) out.ignored = true;
      if (r.costUsd !== undefined) out.costUsd = r.costUsd;
      groups.set(key, out);
    }
  }
  return [...groups.values()];
}

test('the reference endpoints of the comparisons below keep what rollUpEndpoint keeps, on hand-written ends', () => {
  const ends: FlowEndpoint[] = [api1, web, { address: '192.168.0.10', port: 10250, node: 'node-a', zone: 'zone-a', region: 'r1' }, { address: '10.9.9.9', port: 53, zone: 'zone-c' }, { address: '8.8.8.8', port: 443 }, { ...api2, hostNetwork: true }];
  for (const level of ['pod', 'workload', 'namespace'] as AggregationLevel[]) {
    for (const ep of ends) assert.deepEqual(referenceEndpoint(ep, level), rollUpEndpoint(ep, level), `${level}: ${JSON.stringify(ep)}`);
  }
  assert.deepEqual(referenceEndpoint(api1, 'pod'), { address: '', port: 0, namespace: 'shop', pod: 'api-1', workloadKind: 'Deployment', workloadName: 'api', node: 'node-a', zone: 'zone-a', region: 'r1' });
  assert.deepEqual(referenceEndpoint(api1, 'workload'), { address: '', port: 0, namespace: 'shop', workloadKind: 'Deployment', workloadName: 'api', zone: 'zone-a', region: 'r1' });
  assert.deepEqual(referenceEndpoint(api1, 'namespace'), { address: '', port: 0, namespace: 'shop', zone: 'zone-a', region: 'r1' });
});

const teams: Readonly<Record<string, string>>[] = [{ team: 't0' }, { team: 't1', app: 'a' }, { app: 'a', team: 't1' }];

/** Random records between 300 endpoints whose addresses collide on purpose (IP reuse). */
function randomRecords(seed: number, count: number): FlowRecord[] {
  let state = seed;
  const rnd = (n: number) => {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    // The high bits: this generator's low bits repeat every few draws, which made every
    // endpoint of seed 7 unnamed (20k records rolled up into 12 groups, no pod or workload).
    return Math.floor((state / 2 ** 32) * n);
  };
  const endpoints: FlowEndpoint[] = Array.from({ length: 300 }, (_, i) => {
    const kind = rnd(4);
    const address = `10.${rnd(3)}.${rnd(4)}.${rnd(50)}`;
    if (kind === 0) return { address, port: 0 };
    if (kind === 1) return { address, port: 0, node: `node-${rnd(5)}`, zone: `z${rnd(3)}` };
    const named: FlowEndpoint = { address, port: 0, namespace: `ns${rnd(3)}`, pod: `p${i}`, workloadKind: 'Deployment', workloadName: `w${rnd(10)}`, node: `node-${rnd(5)}`, zone: `z${rnd(3)}`, region: `r${rnd(2)}`, hostNetwork: rnd(10) === 0 };
    // Services and chosen labels on some ends; label sets shared (as k8sattributes shares them) or not.
    if (rnd(3) === 0) Object.assign(named, { service: `svc${rnd(3)}`, serviceNamespace: named.namespace });
    if (rnd(2) === 0) named.podLabels = rnd(2) ? teams[rnd(teams.length)] : { team: `t${rnd(3)}` };
    if (rnd(3) === 0) named.namespaceLabels = { team: `t${rnd(2)}` };
    return named;
  });
  return Array.from({ length: count }, () => ({
    src: { ...endpoints[rnd(endpoints.length)]!, port: rnd(65536) },
    dst: { ...endpoints[rnd(endpoints.length)]!, port: rnd(3) },
    transport: ['tcp', 'udp', 'icmp'][rnd(3)]!,
    ipFamily: 'ipv4' as const,
    bytes: rnd(10_000),
    packets: rnd(10),
    ...(rnd(5) ? { trafficClass: (['same_zone', 'cross_zone', 'internet', 'same_region', 'unknown'] as const)[rnd(5)] } : {}),
    ...(rnd(2) ? { costUsd: rnd(100) / 1000 } : {}),
    ...(rnd(8) === 0 ? { ignored: true } : {}),
  }));
}

/** deepEqual, record by record: a difference shows the first record that differs, not a diff of 20k records (minutes to render). */
function assertSameRecords(actual: FlowRecord[], expected: FlowRecord[], message: string): void {
  for (let i = 0; i < Math.max(actual.length, expected.length); i++) assert.deepEqual(actual[i], expected[i], `${message}: record ${i} of ${expected.length}`);
}

test('matches the obvious implementation on 20k random records at every level', () => {
  const input = randomRecords(7, 20_000);
  for (const level of ['pod', 'workload', 'namespace'] as AggregationLevel[]) {
    const expected = referenceRollUp(input, level);
    assertSameRecords(rollUp(input, level), expected, level);
    const total = (rs: FlowRecord[]) => rs.reduce((n, r) => n + r.bytes, 0);
    assert.equal(total(expected), total(input));
  }
});

test('one RollUp over many batches (addresses moving between pods) matches the obvious implementation', () => {
  for (const level of ['pod', 'workload', 'namespace'] as AggregationLevel[]) {
    const rollUpper = new RollUp(level);
    for (let seed = 1; seed <= 6; seed++) {
      const input = randomRecords(seed, 3_000);
      assertSameRecords(rollUpper.records(input), referenceRollUp(input, level), `${level}, batch ${seed}`);
    }
  }
});

test('big and small batches in turn through one RollUp (its tables grow and shrink) match the obvious implementation', () => {
  const rollUpper = new RollUp('pod');
  for (const [seed, count] of [[11, 20_000], [12, 40], [13, 0], [14, 20_000], [15, 5]] as const) {
    const input = randomRecords(seed, count);
    assertSameRecords(rollUpper.records(input), referenceRollUp(input, 'pod'), `batch ${seed} of ${count}`);
  }
});


/** The five factories of this area: enough for a full pipeline in the broken configs of testdata/. */
const FACTORIES = [replayReceiverFactory, flowlogExporterFactory, crosszoneProcessorFactory, aggregateProcessorFactory, costProcessorFactory];

test('broken configs in testdata/ are rejected through the config loader, with path and line:column', async () => {
  const file = join(import.meta.dirname, 'testdata', 'bad-by.yaml');
  assert.deepEqual(await configProblems([file], FACTORIES, { FLOWS: join(import.meta.dirname, '../../receivers/replay/testdata/flows.jsonl') }), [
    `${file}:6:5: processors::aggregate::by: unknown level "deployment": expected pod, workload or namespace`,
    `${file}:8:5: processors::aggregate/typo::bye: unknown key "bye"; did you mean "by"?`,
  ]);
});

test('endpoints changed or reused after their batch do not confuse the next batch', () => {
  const rollUpper = new RollUp('workload');
  const first = [flow(api1, db0, 1)];
  rollUpper.records(first);
  // Upstream reuses the same endpoint object for another pod at the same address.
  Object.assign(first[0]!.dst, { pod: 'cache-0', workloadKind: 'StatefulSet', workloadName: 'cache', zone: 'zone-c' });
  assert.equal(rollUpper.records([flow(api1, db0, 2)])[0]!.dst.workloadName, 'db');
  const moved = rollUpper.records([first[0]!])[0]!;
  assert.deepEqual([moved.dst.workloadName, moved.dst.zone], ['cache', 'zone-c']);
});

const LEVELS: AggregationLevel[] = ['pod', 'workload', 'namespace'];

test('columns give the records that records give: random batches through one RollUp per form, at every level', () => {
  for (const level of LEVELS) {
    const random = new SeededRandom(fuzzSeed(17));
    const ends = randomEnds(random, 1_500);
    const onRecords = new RollUp(level);
    const onColumns = new RollUp(level);
    for (let round = 0; round < 6; round++) {
      const { records, columns } = bothForms(random, randomFlows(random, ends, random.int(0, 5_000)), ends);
      const before = structuredClone(columns.columns);
      const expected = onRecords.records(records.records);
      assertSameRecords(onColumns.columns(columns.columns!), expected, `${level}, round ${round}`);
      assert.deepEqual(columns.columns, before, 'the columns are left as they were');
      assert.ok(expected.length < records.records.length || records.records.length === 0, 'rows were summed');
    }
  }
});

test('columns and records in turn through one processor: the same records as records alone, the ends shared and frozen', async () => {
  for (const level of LEVELS) {
    const random = new SeededRandom(fuzzSeed(23));
    const ends = randomEnds(random, 200);
    const mixed = processor({ by: level });
    const plain = processor({ by: level });
    for (let round = 0; round < 6; round++) {
      const flows = randomFlows(random, ends, random.int(0, 3_000));
      const { records, columns } = bothForms(random, flows, ends);
      await plain.p.consume(records);
      await mixed.p.consume(round % 2 === 0 ? columns : bothForms(random, flows).records);
    }
    for (let b = 0; b < 6; b++) assertSameRecords(mixed.next.batches[b]!.records, plain.next.batches[b]!.records, `${level}, batch ${b}`);
    const rolled = mixed.next.batches[0]!.records;
    assert.ok(rolled.length > 1 && Object.isFrozen(rolled[0]!.src));
    assert.equal(mixed.next.batches[0]!.columns, undefined, 'the output is records');
  }
});

test('columns: ports on the rows are dropped at every level, like the ports of records', () => {
  for (const level of LEVELS) {
    const input = [flow(api1, db0, 1), flow({ ...api1, port: 1 }, { ...db0, port: 2 }, 2), flow(api1, { address: '8.8.8.8', port: 443 }, 4), flow(api1, { address: '8.8.8.8', port: 80 }, 8)];
    const out = new RollUp(level).columns(columnsFromRecords(input));
    assert.deepEqual(out, rollUp(input, level), level);
    assert.deepEqual(
      out.map((r) => [r.src.port, r.dst.port, r.bytes]),
      [
        [0, 0, 3],
        [0, 0, 12],
      ],
      level,
    );
  }
});

test('columns: an empty batch rolls up to no records', () => {
  for (const level of LEVELS) assert.deepEqual(new RollUp(level).columns(newColumns(0)), []);
});

test('columns behind a fan-out: the read-only sibling sees its columns exactly as sent', async () => {
  const downstream = new RecordingConsumer();
  const sibling = new RecordingConsumer();
  const p = aggregateProcessorFactory.create(testSettings('aggregate', 'processor'), aggregateProcessorFactory.configSchema.parse({ by: 'workload' }), downstream);
  const random = new SeededRandom(5);
  const sent = bothForms(random, randomFlows(random, randomEnds(random, 50), 500)).columns;
  const before = structuredClone(sent.columns);
  await fanout([p, sibling]).consume(sent);
  assert.deepEqual(sibling.batches[0]!.columns, before);
  assert.ok(downstream.batches[0]!.records.length < before!.length, 'the processor summed rows in its own copy');
});

test('crosszone -> aggregate on columns gives what it gives on records', async () => {
  const random = new SeededRandom(fuzzSeed(41));
  const ends = randomEnds(random, 300);
  for (const keep of [undefined, ['cross_zone', 'cross_region', 'internet', 'same_region']] as const) {
    const chain = () => {
      const next = new RecordingConsumer();
      const aggregate = aggregateProcessorFactory.create(testSettings('aggregate', 'processor'), aggregateProcessorFactory.configSchema.parse({ by: 'workload' }), next);
      const crosszone = crosszoneProcessorFactory.create(testSettings('crosszone', 'processor'), crosszoneProcessorFactory.configSchema.parse(keep ? { keep } : {}), aggregate);
      return { crosszone, next };
    };
    const onRecords = chain();
    const onColumns = chain();
    for (let round = 0; round < 3; round++) {
      const { records, columns } = bothForms(random, randomFlows(random, ends, 4_000), ends);
      await onRecords.crosszone.consume(records);
      await onColumns.crosszone.consume(columns);
      assertSameRecords(onColumns.next.batches[round]!.records, onRecords.next.batches[round]!.records, `keep ${keep?.join(',') ?? 'all'}, round ${round}`);
    }
  }
});
