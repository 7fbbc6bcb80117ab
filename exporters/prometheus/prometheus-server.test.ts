/**
 * Debian's Prometheus, started by the test on loopback, scrapes zonetap fed
 * with a known cluster's flows; the README's PromQL runs through Prometheus'
 * HTTP API and must return what the flows say, and kubezonnet's metric must
 * equal what kubezonnet's rule gives for the same flows.
 *
 * 1. In process, exact: every label set is first exposed at 0 (a priming batch
 *    of zero-byte records) and scraped before traffic starts, and the queries
 *    are evaluated at the timestamp of a scrape taken after the last batch.
 *    Then rate()/increase() extrapolation adds nothing on either side:
 *    increase(x[w]) is the counter's last value and rate(x[w]) that over w.
 * 2. The real command: `zonetap run` replays raw flows (addresses only) through
 *    k8sattributes (static inventory), crosszone and cost into this exporter.
 *    Replay timing is not tied to scrapes, so the README queries are checked
 *    up to one factor common to all series (every series grows in the same
 *    shape, so Prometheus extrapolates them all alike), and the counters
 *    themselves exactly.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { FlowRecord } from '../../pipeline/flow.ts';
import { testSettings } from '../../test/support/components.ts';
import { fourZoneModel, type ClusterModel, type RawFlow } from '../../test/support/flow-records.ts';
import { freePort } from '../../test/support/loopback.ts';
import { sleep, until } from '../../test/support/poll.ts';
import { startProgram, ZONETAP, type RunningProgram } from '../../test/support/processes.ts';
import { readmeQuery } from '../../test/support/promql.ts';
import { startPrometheus, type PrometheusServer as Prometheus, type VectorSample } from '../../test/support/prometheus.ts';
import { configSchema, PrometheusFlowExporter } from './index.ts';

const BATCHES = 5;

const QUERIES = {
  perSecond: 'Top 20 workloads by cross-zone bytes per second over 5 minutes',
  week: 'Top 20 workloads by cross-zone bytes over a week',
  cost: 'Cost per hour by namespace, in US dollars',
  matrix: 'Zone-to-zone matrix, in bytes per second',
  kubezonnetRate: "kubezonnet's queries: top 20 pods by cross-zone traffic, MB/s over 5 minutes",
  kubezonnetWeek: "kubezonnet's queries: top 20 pods by cross-zone traffic over a week, in GB",
} as const;

/** Waits for a scrape that has `totalBytes` in it and returns its timestamp (seconds). */
async function finalScrape(prometheus: Prometheus, totalBytes: number, log: () => string): Promise<number> {
  return until('a scrape of the final totals', async () => {
    const [sum] = await prometheus.query('sum(zonetap_network_flow_bytes_total)');
    if (Number(sum?.value[1]) !== totalBytes) return undefined;
    const [ts] = await prometheus.query('max(timestamp(zonetap_network_flow_bytes_total))');
    return ts ? Number(ts.value[1]) : undefined;
  }, { details: log, timeoutMs: 45_000, intervalMs: 200 });
}

const byLabels = (samples: VectorSample[], labels: string[]) => new Map(samples.map((s) => [labels.map((l) => s.metric[l] ?? '').join('/'), Number(s.value[1])]));

function sumBy(records: readonly FlowRecord[], select: (r: FlowRecord) => boolean, key: (r: FlowRecord) => string, value: (r: FlowRecord) => number): Map<string, number> {
  const out = new Map<string, number>();
  for (const r of records) if (select(r)) out.set(key(r), (out.get(key(r)) ?? 0) + value(r));
  return out;
}
const top = (m: Map<string, number>, n: number, scale = 1) => new Map([...m].sort((a, b) => b[1] - a[1]).slice(0, n).map(([k, v]) => [k, v * scale]));
const workload = (r: FlowRecord) => `${r.src.namespace ?? ''}/${r.src.workloadName ?? ''}`;

/** `actual` has the label sets of `expected`, and each value is `factor` times the expected one (relative error 1e-9). */
function assertProportional(actual: Map<string, number>, expected: Map<string, number>, factor: number, what: string): void {
  assert.deepEqual([...actual.keys()].sort(), [...expected.keys()].sort(), `${what}: label sets`);
  for (const [k, v] of expected) {
    const want = v * factor;
    const got = actual.get(k)!;
    assert.ok(Math.abs(got - want) <= 1e-9 * Math.max(Math.abs(want), 1e-12), `${what} ${k}: got ${got}, expected ${want}`);
  }
}

/**
 * Runs every README query at time T and checks it against the flows. `factor`
 * is what increase() over any window returns per byte counted: 1 when exact.
 */
async function assertReadmeQueries(prometheus: Prometheus, T: number, records: readonly FlowRecord[], kubezonnet: Map<string, number>, factor: number, costTotals: Map<string, number>) {
  const run = (key: keyof typeof QUERIES) => prometheus.query(readmeQuery(QUERIES[key]), T);
  const crossZoneByWorkload = sumBy(records, (r) => r.trafficClass === 'cross_zone', workload, (r) => r.bytes);
  assert.ok(crossZoneByWorkload.size > 20, 'more workloads than topk keeps');

  const perSecond = await run('perSecond');
  assert.equal(perSecond.length, 20);
  assertProportional(byLabels(perSecond, ['k8s_src_namespace', 'k8s_src_owner_name']), top(crossZoneByWorkload, 20, 1 / 300), factor, 'cross-zone bytes/s by workload');
  assertProportional(byLabels(await run('week'), ['k8s_src_namespace', 'k8s_src_owner_name']), top(crossZoneByWorkload, 20), factor, 'cross-zone bytes over a week by workload');

  const cost = await run('cost');
  assertProportional(byLabels(cost, ['k8s_src_namespace']), costTotals, factor, 'cost per hour by namespace');
  const costs = cost.map((s) => Number(s.value[1]));
  assert.deepEqual(costs, [...costs].sort((a, b) => b - a), 'sorted, most expensive first');
  assert.ok(costs[0]! > 0);

  const expectedMatrix = sumBy(records, () => true, (r) => `${r.src.zone}/${r.dst.zone ?? ''}`, (r) => r.bytes / 300);
  assert.ok(expectedMatrix.has('zone-a/zone-b') && expectedMatrix.has('zone-a/zone-a') && expectedMatrix.has('zone-a/zone-d') && expectedMatrix.has('zone-a/'), 'cross-zone, same-zone, cross-region and internet cells');
  assertProportional(byLabels(await run('matrix'), ['src_zone', 'dst_zone']), expectedMatrix, factor, 'zone-to-zone bytes/s');

  assert.ok(kubezonnet.size > 20 && [...kubezonnet.keys()].some((k) => k.startsWith('_node_/')));
  assertProportional(byLabels(await run('kubezonnetRate'), ['namespace', 'pod']), top(kubezonnet, 20, 1 / 300 / 1e6), factor, 'kubezonnet MB/s');
  assertProportional(byLabels(await run('kubezonnetWeek'), ['namespace', 'pod']), top(kubezonnet, 20, 1 / 1e9), factor, 'kubezonnet GB over a week');
}

/** The counters themselves at T: flows by workload and class, and kubezonnet's metric, exactly. */
async function assertCounters(prometheus: Prometheus, T: number, records: readonly FlowRecord[], kubezonnet: Map<string, number>) {
  const byClass = await prometheus.query('sum by (k8s_src_namespace, k8s_src_owner_name, zonetap_traffic_class) (zonetap_network_flow_bytes_total)', T);
  assert.deepEqual(byLabels(byClass, ['k8s_src_namespace', 'k8s_src_owner_name', 'zonetap_traffic_class']), sumBy(records, () => true, (r) => `${workload(r)}/${r.trafficClass}`, (r) => r.bytes));
  const packets = await prometheus.query('sum(zonetap_network_flow_packets_total)', T);
  assert.equal(Number(packets[0]!.value[1]), records.reduce((s, r) => s + r.packets, 0));
  assert.deepEqual(byLabels(await prometheus.query('pod_cross_zone_network_traffic_bytes_total', T), ['namespace', 'pod']), kubezonnet);
  // Nothing but flow labels: no otel_scope_* labels, no target_info.
  const [series] = await prometheus.query('zonetap_network_flow_bytes_total', T);
  assert.deepEqual(Object.keys(series!.metric).filter((l) => l.startsWith('otel_')), []);
  assert.equal((await prometheus.query('target_info', T)).length, 0);
}

/** Raw flows of batch `b` (1-based): every pair, bytes growing with b so all series grow in the same shape. */
function rawBatch(pairs: ReturnType<typeof fourZoneModel>['pairs'], b: number): RawFlow[] {
  return pairs.map((p, i) => ({ src: p.src, dst: p.dst, srcPort: 40000 + ((b * 31 + i) % 20000), dstPort: 8080, bytes: p.weight * b, packets: b + (i % 3) }));
}

test('in process: the README PromQL returns exactly what the flows say; kubezonnet\'s metric matches kubezonnet', { timeout: 120_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'zt-prometheus-'));
  const exporter = new PrometheusFlowExporter(testSettings('prometheus', 'exporter'), configSchema.parse({ endpoint: '127.0.0.1:0' }));
  let prometheus: Prometheus | undefined;
  try {
    await exporter.start();
    const { cluster, pairs } = fourZoneModel();
    const batch = (records: FlowRecord[]) => ({ start: Date.now() - 1000, end: Date.now(), records });
    // Every label set first appears at 0 and is scraped at 0.
    const priming = pairs.map((p) => cluster.resolve({ ...p, srcPort: 40000, dstPort: 8080, bytes: 0, packets: 0 }));
    await exporter.consume(batch(priming));
    prometheus = await startPrometheus(dir, exporter.address!);
    const primed = await until('the first scrape', async () => {
      const r = await prometheus!.query('count(zonetap_network_flow_bytes_total == 0)');
      return r.length ? Number(r[0]!.value[1]) : undefined;
    }, { details: prometheus.log, timeoutMs: 45_000, intervalMs: 200 });
    assert.equal(primed, exporter.flows.size, 'every label set scraped at 0');

    const raw: RawFlow[] = [];
    for (let b = 1; b <= BATCHES; b++) {
      const flows = rawBatch(pairs, b);
      raw.push(...flows);
      await exporter.consume(batch(flows.map((f) => cluster.resolve(f))));
      await sleep(1100);
    }
    const records = raw.map((f) => cluster.resolve(f));
    const T = await finalScrape(prometheus, records.reduce((s, r) => s + r.bytes, 0), prometheus.log);
    const kubezonnet = cluster.kubezonnetTotals(raw);
    await assertCounters(prometheus, T, records, kubezonnet);
    await assertReadmeQueries(prometheus, T, records, kubezonnet, 1, sumBy(records, () => true, (r) => r.src.namespace ?? '', (r) => r.costUsd!));
  } finally {
    await prometheus?.stop();
    await exporter.shutdown();
    rmSync(dir, { recursive: true, force: true });
  }
});

/** The static inventory processors/k8sattributes reads for `cluster`. */
function inventory(cluster: ClusterModel) {
  return {
    nodes: cluster.nodes.map((n) => ({ name: n.name, zone: n.zone, region: n.region, addresses: [n.address] })),
    pods: cluster.pods.map((p) => ({
      namespace: p.namespace, name: p.name, workload: { kind: p.hostNetwork ? 'DaemonSet' : 'Deployment', name: p.workload }, node: p.node, addresses: [p.address], ...(p.hostNetwork ? { hostNetwork: true } : {}),
    })),
  };
}

test('zonetap run (replay -> k8sattributes -> crosszone -> cost -> prometheus): README PromQL and kubezonnet\'s metric', { timeout: 120_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'zt-prometheus-run-'));
  let zonetap: RunningProgram | undefined;
  let prometheus: Prometheus | undefined;
  try {
    const { cluster, pairs } = fourZoneModel();
    const raw: RawFlow[] = [];
    const lines: string[] = [];
    const t0 = Date.now() - 3_600_000;
    for (let b = 1; b <= BATCHES; b++) {
      const flows = rawBatch(pairs, b);
      raw.push(...flows);
      for (const f of flows) {
        lines.push(JSON.stringify({
          start: new Date(t0 + (b - 1) * 10_000).toISOString(), end: new Date(t0 + b * 10_000).toISOString(),
          'src.address': f.src, 'src.port': f.srcPort, 'dst.address': f.dst, 'dst.port': f.dstPort, transport: 'tcp', 'network.type': 'ipv4', bytes: f.bytes, packets: f.packets,
        }));
      }
    }
    writeFileSync(join(dir, 'flows.jsonl'), lines.join('\n') + '\n');
    writeFileSync(join(dir, 'inventory.yaml'), stringify(inventory(cluster)));
    const endpoint = `127.0.0.1:${await freePort()}`;
    writeFileSync(join(dir, 'zonetap.yaml'), stringify({
      // 2s per interval with 1s scrapes: Prometheus sees the counters grow over several scrapes.
      receivers: { replay: { path: join(dir, 'flows.jsonl'), interval: '2s' } },
      processors: { k8sattributes: { source: 'static', inventory: join(dir, 'inventory.yaml') }, crosszone: {}, cost: { provider: 'gcp' } },
      exporters: { prometheus: { endpoint } },
      service: {
        pipelines: { flows: { receivers: ['replay'], processors: ['k8sattributes', 'crosszone', 'cost'], exporters: ['prometheus'] } },
        telemetry: { metrics: { endpoint: '127.0.0.1:0' } },
      },
    }));

    prometheus = await startPrometheus(dir, endpoint);
    zonetap = startProgram(ZONETAP, ['run', '--config', join(dir, 'zonetap.yaml'), '--log-level', 'warn']);

    const records = raw.map((f) => cluster.resolve(f));
    const log = () => `zonetap:\n${zonetap!.output()}\nprometheus:\n${prometheus!.log()}`;
    const T = await finalScrape(prometheus, records.reduce((s, r) => s + r.bytes, 0), log);
    const kubezonnet = cluster.kubezonnetTotals(raw);
    await assertCounters(prometheus, T, records, kubezonnet);

    // The model prices each record as the cost processor's gcp table does ($/GiB: 0.01 cross-zone, 0.02 cross-region, 0.12 internet).
    const costTotals = sumBy(records, () => true, (r) => r.src.namespace ?? '', (r) => r.costUsd!);
    assertProportional(byLabels(await prometheus.query('sum by (k8s_src_namespace) (zonetap_network_flow_cost_usd_total)', T), ['k8s_src_namespace']), costTotals, 1, 'cost by namespace, exactly');
    const [first] = await prometheus.query(`sum(increase(zonetap_network_flow_bytes_total[1w]))`, T);
    const factor = Number(first!.value[1]) / records.reduce((s, r) => s + r.bytes, 0);
    // The first scrape saw at least the first interval, so increase() recovers part of the bytes, never more than all.
    assert.ok(factor > 0 && factor <= 1 + 1e-9, `increase() recovers ${factor} of the bytes`);
    await assertReadmeQueries(prometheus, T, records, kubezonnet, factor, costTotals);

    assert.equal(await zonetap.stop(), 0, `zonetap exits cleanly on SIGTERM:\n${zonetap.output()}`);
  } finally {
    await zonetap?.stop();
    await prometheus?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
