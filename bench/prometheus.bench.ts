/**
 * exporters/prometheus, each figure with its baseline from the same run:
 * - consume() cost per record and /metrics time for N label sets, against the
 *   plain OpenTelemetry SDK path (two counters with the same attributes,
 *   rendered by the same PrometheusExporter) and against the same stores
 *   rendered as before (bench/prometheus-baseline.ts);
 * - 50 concurrent scrapers at 20,000 label sets: scrape latency, and the
 *   latency of ingest (consume() every 100 ms) meanwhile, for the exporter and
 *   for the way it served scrapes before;
 * - memory under pod churn, against SDK counters.
 * Run alone: node bench/prometheus.bench.ts
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { MeterProvider, type MetricReader } from '@opentelemetry/sdk-metrics';
import type { FlowRecord } from '../pipeline/flow.ts';
import { labelName, recordAttributes } from '../pipeline/attributes.ts';
import { testSettings } from '../test/support/components.ts';
import { freePort } from '../test/support/loopback.ts';
import { configSchema, flowFamilies, PrometheusFlowExporter } from '../exporters/prometheus/index.ts';
import { startBaselineServer } from './prometheus-baseline.ts';
import { result } from './report.ts';

function records(n: number, withCost: boolean): FlowRecord[] {
  return Array.from({ length: n }, (_, i) => ({
    src: { address: `10.1.${(i >> 8) & 255}.${i & 255}`, port: 40000 + (i % 1000), namespace: `ns-${i % 20}`, pod: `api-${i}`, workloadKind: 'Deployment', workloadName: `api-${i % 500}`, node: `node-${i % 30}`, zone: `zone-${i % 3}`, region: 'region-1' },
    dst: { address: `10.2.${(i >> 8) & 255}.${i & 255}`, port: 5432, namespace: 'db', pod: `pg-${i % 7}`, workloadKind: 'StatefulSet', workloadName: 'pg', node: `node-${(i + 1) % 30}`, zone: `zone-${(i + 1) % 3}`, region: 'region-1' },
    transport: 'tcp', ipFamily: 'ipv4', bytes: 1000 + i, packets: 3, trafficClass: 'cross_zone', ...(withCost ? { costUsd: 1e-8 * i } : {}),
  }));
}

/** The SDK-only way: counters keyed by the same labels (without addresses and ports, as the exporter does). */
async function sdkPath(cardinality: number) {
  const port = await freePort();
  const reader = new PrometheusExporter({ host: '127.0.0.1', port, withoutScopeInfo: true, withoutTargetInfo: true });
  await reader.startServer();
  const provider = new MeterProvider({ readers: [reader as unknown as MetricReader], views: [{ instrumentName: '*', aggregationCardinalityLimit: cardinality + 10 }] });
  const meter = provider.getMeter('bench');
  const bytes = meter.createCounter('zonetap.network.flow.bytes', { description: 'IP bytes sent (headers included), by source and destination.' });
  const packets = meter.createCounter('zonetap.network.flow.packets', { description: 'IP packets sent, by source and destination.' });
  const consume = (rs: FlowRecord[]) => {
    for (const r of rs) {
      const attrs: Record<string, string | number | boolean> = {};
      for (const [k, v] of Object.entries(recordAttributes(r))) if (!/\.(address|port)$/.test(k)) attrs[labelName(k)] = v;
      bytes.add(r.bytes, attrs);
      packets.add(r.packets, attrs);
    }
  };
  return { consume, address: `127.0.0.1:${port}`, shutdown: () => provider.shutdown() };
}

const get = async (address: string) => (await fetch(`http://${address}/metrics`)).text();

async function time(fn: () => unknown | Promise<unknown>, minMs = 300): Promise<number> {
  await fn();
  let runs = 0;
  const start = performance.now();
  do {
    await fn();
    runs++;
  } while (performance.now() - start < minMs);
  return (performance.now() - start) / runs;
}

// First, on a fresh heap: 50 scrapers at once (in another process) while batches keep arriving every
// 100 ms: how long scrapes take and how late ingest gets, for the exporter and
// for the way it served scrapes before (a whole render per scrape, in one go).
const SCRAPERS = 50;
const CONCURRENT_LABEL_SETS = 20_000;
const INGEST_EVERY_MS = 100;
const INGEST_RECORDS = 1_000;
const percentile = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
};
/** Consumes a batch every INGEST_EVERY_MS until stop(); each batch's latency is from when it was due to when consume() finished. */
function ingest(exporter: PrometheusFlowExporter, records: FlowRecord[]) {
  const latencies: number[] = [];
  let stopped = false;
  const running = (async () => {
    const start = performance.now();
    for (let k = 1; !stopped; k++) {
      const due = start + k * INGEST_EVERY_MS;
      await sleep(Math.max(0, due - performance.now()));
      const from = (k * INGEST_RECORDS) % records.length;
      await exporter.consume({ start: 0, end: 1, records: records.slice(from, from + INGEST_RECORDS) });
      latencies.push(performance.now() - due);
    }
  })();
  return async () => {
    stopped = true;
    await running;
    return latencies;
  };
}
async function scrapers(address: string, rounds: number) {
  const { stdout } = await promisify(execFile)(process.execPath, [join(import.meta.dirname, 'prometheus-scrapers.ts'), address, String(SCRAPERS), String(rounds)], { maxBuffer: 2 ** 26 });
  return JSON.parse(stdout) as { latencies: number[]; bytes: number; failures: number; errors: string[] };
}
const fmtMs = (ms: number) => (ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(ms < 10 ? 1 : 0)} ms`);
const shared = new PrometheusFlowExporter(testSettings('prometheus', 'exporter'), configSchema.parse({ endpoint: '127.0.0.1:0', max_series: CONCURRENT_LABEL_SETS }));
await shared.start();
const concurrentRecords = records(CONCURRENT_LABEL_SETS, true);
await shared.consume({ start: 0, end: 1, records: concurrentRecords });
const oldWay = await startBaselineServer(flowFamilies(shared.flows, shared.kubezonnet), await freePort());
const quiet = await (async () => {
  const stop = ingest(shared, concurrentRecords);
  await sleep(3000);
  return stop();
})();
const concurrentRows: string[][] = [];
const concurrent: Record<string, { scrape: number[]; ingest: number[]; failed: number }> = {};
for (const [path, address, rounds] of [['zonetap (shared, sliced renders)', shared.address!, 3], ['before (a render per scrape)', oldWay.address, 1]] as const) {
  const rendersBefore = shared.renders;
  const stop = ingest(shared, concurrentRecords);
  const scraped = await scrapers(address, rounds);
  const ingested = await stop();
  if (scraped.failures > 0) console.log(`${path}: ${scraped.failures} scrapes failed: ${scraped.errors.join('; ')}`);
  concurrent[path] = { scrape: scraped.latencies, ingest: ingested, failed: scraped.failures };
  const renders = path.startsWith('zonetap') ? String(shared.renders - rendersBefore) : String(scraped.latencies.length);
  concurrentRows.push([path, String(scraped.latencies.length), String(scraped.failures), ...[50, 90, 99].map((p) => fmtMs(percentile(scraped.latencies, p))), renders, ...[50, 99].map((p) => fmtMs(percentile(ingested, p))), fmtMs(Math.max(...ingested))]);
}
concurrentRows.push(['no scrapes (ingest only)', '0', '0', '', '', '', '0', ...[50, 99].map((p) => fmtMs(percentile(quiet, p))), fmtMs(Math.max(...quiet))]);
await oldWay.shutdown();
await shared.shutdown();
console.log(`\n${SCRAPERS} concurrent scrapers (another process, each scraping back to back) at ${CONCURRENT_LABEL_SETS} label sets, all families on; meanwhile a batch of ${INGEST_RECORDS} records every ${INGEST_EVERY_MS} ms (ingest latency: from when a batch was due to the end of its consume()).`);
const concurrentHeader = ['path', 'scrapes ok', 'failed', 'scrape p50', 'p90', 'p99', 'renders', 'ingest p50', 'ingest p99', 'ingest max'];
const ccw = concurrentHeader.map((h, i) => Math.max(h.length, ...concurrentRows.map((r) => r[i]!.length)));
for (const r of [concurrentHeader, ...concurrentRows]) console.log(r.map((c, i) => (i === 0 ? c.padEnd(ccw[i]!) : c.padStart(ccw[i]!))).join('  '));
const [sharedRun, beforeRun] = Object.values(concurrent) as [(typeof concurrent)[string], (typeof concurrent)[string]];
const triple = (xs: number[]) => [50, 90, 99].map((p) => fmtMs(percentile(xs, p))).join(' / ');
result({
  measure: `prometheus scrape latency p50 / p90 / p99, ${SCRAPERS} concurrent scrapers, ${CONCURRENT_LABEL_SETS} label sets`,
  value: `${triple(sharedRun.scrape)}, ${sharedRun.failed} failed`,
  baseline: `a render per scrape (before): ${triple(beforeRun.scrape)}, ${beforeRun.failed} failed`,
});
result({ measure: `prometheus ingest latency p50 / p99 during those scrapes (a batch every ${INGEST_EVERY_MS} ms)`, value: `${fmtMs(percentile(sharedRun.ingest, 50))} / ${fmtMs(percentile(sharedRun.ingest, 99))}`, baseline: `before: ${fmtMs(percentile(beforeRun.ingest, 50))} / ${fmtMs(percentile(beforeRun.ingest, 99))}; no scrapes: ${fmtMs(percentile(quiet, 50))} / ${fmtMs(percentile(quiet, 99))}` });


const rows: string[][] = [];
for (const n of [1_000, 10_000, 50_000]) {
  // Same work on both sides: bytes and packets per label set, no cost, no kubezonnet metric.
  const plain = records(n, false);
  // exposition_max_age 1ms: every timed scrape renders (none is served a recent render).
  const zonetap = new PrometheusFlowExporter(testSettings('prometheus', 'exporter'), configSchema.parse({ endpoint: '127.0.0.1:0', max_series: n, kubezonnet_compat: false, exposition_max_age: '1ms' }));
  await zonetap.start();
  const before = await startBaselineServer(flowFamilies(zonetap.flows, undefined), await freePort());
  const sdk = await sdkPath(n);
  const zConsume = await time(() => zonetap.consume({ start: 0, end: 1, records: plain }));
  const sConsume = await time(() => sdk.consume(plain));
  const zRender = await time(() => get(zonetap.address!));
  const bRender = await time(() => get(before.address));
  const sRender = await time(() => get(sdk.address));
  const zBody = (await get(zonetap.address!)).length;
  const zLines = (await get(zonetap.address!)).split('\n').filter((l) => !l.startsWith('#'));
  const sLines = (await get(sdk.address)).split('\n').filter((l) => !l.startsWith('#'));
  const labelsOnly = (lines: string[]) => lines.map((l) => l.replace(/ [^ ]+$/, '')).sort().join('\n');
  if (labelsOnly(zLines) !== labelsOnly(sLines)) throw new Error('zonetap and the SDK baseline render different series');
  if ((await get(before.address)) !== (await get(zonetap.address!))) throw new Error('zonetap and the exporter-prometheus serializer render different text');
  await before.shutdown();
  await zonetap.shutdown();
  await sdk.shutdown();

  // Everything on: cost series and kubezonnet's metric as well.
  const full = new PrometheusFlowExporter(testSettings('prometheus', 'exporter'), configSchema.parse({ endpoint: '127.0.0.1:0', max_series: n, exposition_max_age: '1ms' }));
  await full.start();
  const costed = records(n, true);
  const fConsume = await time(() => full.consume({ start: 0, end: 1, records: costed }));
  const fRender = await time(() => get(full.address!));
  await full.shutdown();

  rows.push([
    String(n),
    `${((zConsume * 1e6) / n).toFixed(0)} ns`,
    `${((sConsume * 1e6) / n).toFixed(0)} ns`,
    `${zRender.toFixed(1)} ms`,
    `${bRender.toFixed(1)} ms`,
    `${sRender.toFixed(1)} ms`,
    `${(zBody / 2 ** 20).toFixed(1)} MB`,
    `${((fConsume * 1e6) / n).toFixed(0)} ns`,
    `${fRender.toFixed(1)} ms`,
  ]);
}

const header = ['label sets', 'consume/rec zonetap', 'consume/rec OTel SDK', 'scrape zonetap', 'scrape before', 'scrape OTel SDK', 'body', 'consume/rec all on', 'scrape all on'];
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
const line = (cells: string[]) => cells.map((c, i) => c.padStart(widths[i]!)).join('  ');
console.log('\nexporters/prometheus: zonetap store and exposition vs. the plain OTel SDK counters (baseline, same run).');
console.log('consume: one batch of <label sets> records, every record an update of a known series; scrape: GET /metrics over loopback.');
console.log('zonetap and SDK columns do the same work (bytes + packets; the bench checks both render the same series); "all on" adds cost and kubezonnet series.');
console.log('"scrape before": the same store rendered as the exporter did before, through a MetricProducer and the exporter-prometheus serializer (checked to give the same text).');
console.log(line(header));
for (const r of rows) console.log(line(r));
const largest = rows.at(-1)!;
result({ measure: `prometheus consume per record / scrape, ${largest[0]} label sets`, value: `${largest[1]} / ${largest[3]}`, baseline: `OTel SDK counters: ${largest[2]} / ${largest[5]}; scrape before: ${largest[4]}` });

// Churn: pods come and go (new pod names every batch). zonetap expires idle
// label sets after series_ttl; SDK counters keep every attribute set forever.
const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});
const heapMb = () => {
  gc();
  gc();
  return process.memoryUsage().heapUsed / 2 ** 20;
};
const CHURN_BATCHES = 40;
const PODS_PER_BATCH = 2_500;
const churnBatch = (b: number) => records(PODS_PER_BATCH, false).map((r, i) => ({ ...r, src: { ...r.src, pod: `job-${b}-${i}` } }));
const base = heapMb();
let now = 0;
const churned = new PrometheusFlowExporter(testSettings('prometheus', 'exporter'), configSchema.parse({ endpoint: '127.0.0.1:0', series_ttl: '1m', max_series: 1_000_000, kubezonnet_compat: false }), { now: () => now });
for (let b = 0; b < CHURN_BATCHES; b++) {
  await churned.consume({ start: now, end: now + 10_000, records: churnBatch(b) });
  now += 10_000;
}
const zHeap = heapMb() - base;
const zLive = churned.flows.size;
await churned.shutdown();
const sdkBase = heapMb();
const sdk = await sdkPath(CHURN_BATCHES * PODS_PER_BATCH);
for (let b = 0; b < CHURN_BATCHES; b++) sdk.consume(churnBatch(b));
const sLive = (await get(sdk.address)).split('\n').filter((l) => l.startsWith('zonetap_network_flow_bytes_total')).length;
const sHeap = heapMb() - sdkBase;
await sdk.shutdown();
console.log(`\nchurn: ${CHURN_BATCHES} batches 10 s apart, ${PODS_PER_BATCH} new pod names each (${CHURN_BATCHES * PODS_PER_BATCH} label sets in all), series_ttl 1m`);
const churnRows = [
  ['zonetap (store with expiry)', String(zLive), `${zHeap.toFixed(1)} MB`],
  ['OTel SDK counters (baseline)', String(sLive), `${sHeap.toFixed(1)} MB`],
];
const churnHeader = ['path', 'label sets held at the end', 'heap held'];
const cw = churnHeader.map((h, i) => Math.max(h.length, ...churnRows.map((r) => r[i]!.length)));
result({
  measure: `prometheus under pod churn (${CHURN_BATCHES * PODS_PER_BATCH} label sets, series_ttl 1m)`,
  value: `${zLive} held, ${zHeap.toFixed(1)} MB`,
  baseline: `OTel SDK counters: ${sLive} held, ${sHeap.toFixed(1)} MB`,
});
for (const r of [churnHeader, ...churnRows]) console.log(r.map((c, i) => (i === 0 ? c.padEnd(cw[i]!) : c.padStart(cw[i]!))).join('  '));
