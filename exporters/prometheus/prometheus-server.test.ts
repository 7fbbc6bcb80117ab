/**
 * Debian's Prometheus, started by the test on loopback, scrapes this exporter
 * fed with a known cluster's flows; the README's PromQL runs through
 * Prometheus' HTTP API and must return exactly what the flows say, and
 * kubezonnet's metric must equal what kubezonnet's rule gives for the same flows.
 *
 * Exactness: every label set is first exposed at 0 (a priming batch of
 * zero-byte records) and scraped before traffic starts, and the queries are
 * evaluated at the timestamp of a scrape taken after the last batch. Then
 * Prometheus' rate()/increase() extrapolation adds nothing on either side:
 * increase(x[w]) is the counter's last value and rate(x[w]) that over w.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { FlowRecord } from '../../pipeline/flow.ts';
import { testSettings } from '../../pipeline/testing.ts';
import { configSchema, PrometheusFlowExporter } from './index.ts';
import { demoCluster, type RawFlow } from './scenario.ts';

const PROMETHEUS = '/usr/bin/prometheus';
const BATCHES = 5;

/** The queries of README.md's "PromQL for the common questions", by heading. */
function readmeQueries(): Map<string, string> {
  const readme = readFileSync(join(import.meta.dirname, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## PromQL for the common questions'));
  const queries = new Map<string, string>();
  for (const m of section.matchAll(/^### (.+)\n\n```promql\n(.+)\n```/gm)) queries.set(m[1]!, m[2]!);
  return queries;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

interface VectorSample { metric: Record<string, string>; value: [number, string] }

let dir: string;
let prometheus: ChildProcess | undefined;
let prometheusLog = '';
let api: string;
let exporter: PrometheusFlowExporter;

async function query(promql: string, time?: number): Promise<VectorSample[]> {
  const params = new URLSearchParams({ query: promql });
  if (time !== undefined) params.set('time', String(time));
  const res = await fetch(`${api}/api/v1/query?${params}`);
  const body = (await res.json()) as { status: string; error?: string; data: { resultType: string; result: VectorSample[] } };
  assert.equal(body.status, 'success', `${promql}: ${body.error}`);
  assert.equal(body.data.resultType, 'vector', promql);
  return body.data.result;
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; prometheus log:\n${prometheusLog.slice(-3000)}`);
    await sleep(200);
  }
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'zt-prometheus-'));
  exporter = new PrometheusFlowExporter(testSettings('prometheus', 'exporter'), configSchema.parse({ endpoint: '127.0.0.1:0' }));
  await exporter.start();
  const port = await freePort();
  api = `http://127.0.0.1:${port}`;
  writeFileSync(
    join(dir, 'prometheus.yml'),
    `global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: zonetap\n    static_configs:\n      - targets: ['${exporter.address}']\n`,
  );
  prometheus = spawn(PROMETHEUS, [
    `--config.file=${join(dir, 'prometheus.yml')}`,
    `--storage.tsdb.path=${join(dir, 'data')}`,
    `--web.listen-address=127.0.0.1:${port}`,
    '--log.level=warn',
  ], { stdio: ['ignore', 'ignore', 'pipe'] });
  prometheus.stderr!.on('data', (chunk: Buffer) => (prometheusLog += chunk.toString()));
});

after(async () => {
  if (prometheus && prometheus.exitCode === null) {
    const exited = new Promise((resolve) => prometheus!.once('exit', resolve));
    prometheus.kill('SIGTERM');
    const stop = new AbortController();
    await Promise.race([exited, sleep(10_000, undefined, { signal: stop.signal }).then(() => prometheus!.kill('SIGKILL'), () => {})]);
    stop.abort();
  }
  await exporter?.shutdown();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('the README PromQL returns what the flows say, and kubezonnet\'s metric matches kubezonnet', { timeout: 120_000 }, async () => {
  const { cluster, pairs } = demoCluster();
  const raw: RawFlow[] = [];
  const batch = (records: FlowRecord[]) => ({ start: Date.now() - 1000, end: Date.now(), records });

  // Every label set first appears at 0 and is scraped at 0.
  await exporter.consume(batch(pairs.map((p) => cluster.resolve({ ...p, srcPort: 40000, dstPort: 8080, bytes: 0, packets: 0 }))));
  await until('Prometheus to serve its API', async () => ((await fetch(`${api}/-/ready`)).ok ? true : undefined));
  const primed = await until('the first scrape', async () => {
    const r = await query('count(zonetap_network_flow_bytes_total == 0)');
    return r.length ? Number(r[0]!.value[1]) : undefined;
  });
  assert.equal(primed, new Set(pairs.map((p) => JSON.stringify(cluster.resolve({ ...p, srcPort: 1, dstPort: 1, bytes: 0, packets: 0 })))).size, 'every label set primed at 0');

  for (let b = 1; b <= BATCHES; b++) {
    const flows = pairs.map((p, i) => ({ src: p.src, dst: p.dst, srcPort: 40000 + ((b * 31 + i) % 20000), dstPort: 8080, bytes: p.weight * b, packets: b + (i % 3) }));
    raw.push(...flows);
    await exporter.consume(batch(flows.map((f) => cluster.resolve(f))));
    await sleep(1100);
  }
  const records = raw.map((f) => cluster.resolve(f));
  const totalBytes = records.reduce((s, r) => s + r.bytes, 0);
  const T = await until('a scrape of the final totals', async () => {
    const [sum] = await query('sum(zonetap_network_flow_bytes_total)');
    if (Number(sum?.value[1]) !== totalBytes) return undefined;
    const [ts] = await query('max(timestamp(zonetap_network_flow_bytes_total))');
    return ts ? Number(ts.value[1]) : undefined;
  });

  const queries = readmeQueries();
  const run = async (title: string) => {
    const promql = queries.get(title);
    assert.ok(promql, `README has no query titled "${title}"`);
    return query(promql, T);
  };
  const byLabels = (samples: VectorSample[], labels: string[]) =>
    new Map(samples.map((s) => [labels.map((l) => s.metric[l] ?? '').join('/'), Number(s.value[1])]));
  const sumBy = (select: (r: FlowRecord) => boolean, key: (r: FlowRecord) => string, value: (r: FlowRecord) => number) => {
    const out = new Map<string, number>();
    for (const r of records) if (select(r)) out.set(key(r), (out.get(key(r)) ?? 0) + value(r));
    return out;
  };
  const top = (m: Map<string, number>, n: number, scale = 1) => new Map([...m].sort((a, b) => b[1] - a[1]).slice(0, n).map(([k, v]) => [k, v * scale]));
  const assertClose = (actual: Map<string, number>, expected: Map<string, number>, what: string) => {
    assert.deepEqual([...actual.keys()].sort(), [...expected.keys()].sort(), `${what}: label sets`);
    for (const [k, v] of expected) {
      const got = actual.get(k)!;
      assert.ok(Math.abs(got - v) <= 1e-9 * Math.max(1, Math.abs(v)), `${what} ${k}: got ${got}, expected ${v}`);
    }
  };
  const workload = (r: FlowRecord) => `${r.src.namespace ?? ''}/${r.src.workloadName ?? ''}`;
  const crossZone = (r: FlowRecord) => r.trafficClass === 'cross_zone';
  const crossZoneByWorkload = sumBy(crossZone, workload, (r) => r.bytes);
  assert.ok(crossZoneByWorkload.size > 20, 'more workloads than topk keeps');

  const perSecond = await run('Top 20 workloads by cross-zone bytes per second over 5 minutes');
  assert.equal(perSecond.length, 20);
  assertClose(byLabels(perSecond, ['k8s_src_namespace', 'k8s_src_owner_name']), top(crossZoneByWorkload, 20, 1 / 300), 'cross-zone bytes/s by workload');

  const week = await run('Top 20 workloads by cross-zone bytes over a week');
  assertClose(byLabels(week, ['k8s_src_namespace', 'k8s_src_owner_name']), top(crossZoneByWorkload, 20), 'cross-zone bytes over a week by workload');

  const cost = await run('Cost per hour by namespace, in US dollars');
  const expectedCost = sumBy(() => true, (r) => r.src.namespace ?? '', (r) => r.costUsd!);
  assertClose(byLabels(cost, ['k8s_src_namespace']), expectedCost, 'cost per hour by namespace');
  const costs = cost.map((s) => Number(s.value[1]));
  assert.deepEqual(costs, [...costs].sort((a, b) => b - a), 'sorted, most expensive first');

  const matrix = await run('Zone-to-zone matrix, in bytes per second');
  const expectedMatrix = sumBy(() => true, (r) => `${r.src.zone}/${r.dst.zone ?? ''}`, (r) => r.bytes / 300);
  assertClose(byLabels(matrix, ['src_zone', 'dst_zone']), expectedMatrix, 'zone-to-zone bytes/s');
  assert.ok(expectedMatrix.has('zone-a/zone-b') && expectedMatrix.has('zone-a/zone-a') && expectedMatrix.has('zone-a/'), 'matrix has cross, same-zone and internet cells');

  // kubezonnet: the raw counter, and its README's queries, against its own rule on the raw flows.
  const kubezonnet = cluster.kubezonnetTotals(raw);
  assert.ok(kubezonnet.size > 20 && [...kubezonnet.keys()].some((k) => k.startsWith('_node_/')));
  assert.deepEqual(byLabels(await query('pod_cross_zone_network_traffic_bytes_total', T), ['namespace', 'pod']), kubezonnet);
  assertClose(byLabels(await run("kubezonnet's queries: top 20 pods by cross-zone traffic, MB/s over 5 minutes"), ['namespace', 'pod']), top(kubezonnet, 20, 1 / 300 / 1e6), 'kubezonnet MB/s');
  assertClose(byLabels(await run("kubezonnet's queries: top 20 pods by cross-zone traffic over a week, in GB"), ['namespace', 'pod']), top(kubezonnet, 20, 1 / 1e9), 'kubezonnet GB over a week');

  // Nothing but flow labels on the series: no otel_scope_*, no target_info.
  const [series] = await query('zonetap_network_flow_bytes_total', T);
  assert.deepEqual(Object.keys(series!.metric).filter((l) => l.startsWith('otel_scope') || l === '__name__' && series!.metric[l] !== 'zonetap_network_flow_bytes_total'), []);
  assert.equal((await query('target_info', T)).length, 0);
});
