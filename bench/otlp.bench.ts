/**
 * OTLP agent -> gateway costs, on one core (this process is single-threaded):
 * - baseline: the official exporter's encoding (ProtobufMetricsSerializer from
 *   @opentelemetry/otlp-transformer) of the same ResourceMetrics;
 * - agent: zonetap's export path per data point (store update + snapshot +
 *   ResourceMetrics + the official encoding; gzip shown separately);
 * - gateway: ingest of encoded requests (protobuf decode + cumulative -> delta
 *   + FlowRecords), steady state and first sight of new streams.
 * Goal: gateway ingest >= 200k flow data points per second per core.
 */
import { loadavg } from 'node:os';
import { gunzipSync, gzipSync } from 'node:zlib';
import { ProtobufMetricsSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { FlowTotals, flowResourceMetrics } from '../exporters/otlp/index.ts';
import type { FlowRecord } from '../pipeline/flow.ts';
import { decodeRequest, FlowStreams } from '../receivers/otlp/index.ts';

const SERIES_PER_REQUEST = 1000; // the exporter's default max_series_per_request
const POINTS_PER_REQUEST = SERIES_PER_REQUEST * 2; // bytes + packets
const REQUESTS = 30;

function flow(i: number, bytes: number): FlowRecord {
  return {
    src: { address: `10.1.${i >> 8}.${i & 255}`, port: 30000 + (i % 30000), namespace: `team-${i % 40}`, pod: `api-${i}-7d9f8b6c5-x2k4q`, workloadKind: 'Deployment', workloadName: `api-${i % 200}`, node: `node-${i % 50}`, zone: `zone-${i % 3}`, region: 'europe-west1' },
    dst: { address: `10.2.${i >> 8}.${(i * 7) & 255}`, port: 5432, namespace: 'db', pod: `pg-${i % 5}`, workloadKind: 'StatefulSet', workloadName: 'pg', node: `node-${(i + 1) % 50}`, zone: `zone-${(i + 1) % 3}`, region: 'europe-west1' },
    transport: 'tcp',
    ipFamily: 'ipv4',
    bytes,
    packets: Math.ceil(bytes / 1400),
    trafficClass: 'cross_zone',
  };
}

/**
 * Runs fn (which handles `units` data points) repeatedly for at least minMs of
 * this process's CPU time; returns CPU ns per unit. CPU time rather than wall
 * time, so that other processes on the machine do not inflate the figures.
 */
function measure(fn: () => void, units: number, minMs = 1000): number {
  for (let i = 0; i < 3; i++) fn(); // warm-up
  (globalThis as { gc?: () => void }).gc?.();
  let n = 0;
  const start = process.cpuUsage();
  let usedUs = 0;
  do {
    fn();
    n++;
    const d = process.cpuUsage(start);
    usedUs = d.user + d.system;
  } while (usedUs < minMs * 1000);
  return (usedUs * 1000) / (n * units);
}

const resource = resourceFromAttributes({ 'service.name': 'zonetap', 'service.instance.id': 'bench-agent', 'host.name': 'bench' });
const records = Array.from({ length: SERIES_PER_REQUEST }, (_, i) => flow(i, 1000 + i));

// --- baseline: official encoding of a prepared ResourceMetrics ---
const totals = new FlowTotals({ ttlMs: 3_600_000, maxSeries: 1_000_000 });
totals.add({ start: 0, end: 1, records });
const prepared = flowResourceMetrics(resource, totals.snapshot().series, Date.now());
const encoded = ProtobufMetricsSerializer.serializeRequest(prepared)!;
const baselineNs = measure(() => void ProtobufMetricsSerializer.serializeRequest(prepared), POINTS_PER_REQUEST);

// --- agent: store update + snapshot + ResourceMetrics + encoding (what one export interval costs) ---
const agentStore = new FlowTotals({ ttlMs: 3_600_000, maxSeries: 1_000_000 });
const agentNs = measure(() => {
  agentStore.add({ start: 0, end: 1, records });
  const snap = agentStore.snapshot();
  ProtobufMetricsSerializer.serializeRequest(flowResourceMetrics(resource, snap.series, Date.now()));
  agentStore.delivered(snap.series, snap.seq);
}, POINTS_PER_REQUEST);
const gzipNs = measure(() => void gzipSync(encoded), POINTS_PER_REQUEST);

// --- gateway: REQUESTS successive exports of the same agent, values growing ---
const t0 = Date.now() - 3_600_000;
const requests: Buffer[] = [];
const series = totals.snapshot().series;
for (let k = 0; k < REQUESTS; k++) {
  for (const s of series) {
    s.bytes += 1500;
    s.packets += 1;
  }
  requests.push(Buffer.from(ProtobufMetricsSerializer.serializeRequest(flowResourceMetrics(resource, series, t0 + (k + 1) * 10_000))!));
}
let records_out = 0;
const ingestAll = (streams: FlowStreams, from: number) => {
  for (let k = from; k < REQUESTS; k++) records_out += streams.ingest(decodeRequest(requests[k]!)).batch.records.length;
};
let steadyStreams = new FlowStreams({ ttlMs: 3_600_000, maxStreams: 1_000_000 });
const steadyNs = measure(() => {
  steadyStreams = new FlowStreams({ ttlMs: 3_600_000, maxStreams: 1_000_000 });
  steadyStreams.ingest(decodeRequest(requests[0]!)); // first sight, not timed separately below
  ingestAll(steadyStreams, 1);
}, POINTS_PER_REQUEST * REQUESTS);
const firstNs = measure(() => {
  const streams = new FlowStreams({ ttlMs: 3_600_000, maxStreams: 1_000_000 });
  streams.ingest(decodeRequest(requests[0]!));
}, POINTS_PER_REQUEST);
const gzipped = gzipSync(requests[1]!);
const gunzipNs = measure(() => void gunzipSync(gzipped), POINTS_PER_REQUEST);
if (records_out === 0) throw new Error('gateway produced no records');

const perSec = (ns: number) => Math.round(1e9 / ns).toLocaleString('en-US');
const row = (name: string, ns: number, note = '') => console.log(`${name.padEnd(58)} ${ns.toFixed(0).padStart(7)} ns  ${perSec(ns).padStart(11)} /s  ${note}`);
console.log(`OTLP flow metrics, ${SERIES_PER_REQUEST} series (${POINTS_PER_REQUEST} data points, ${encoded.length} bytes, ${(encoded.length / POINTS_PER_REQUEST).toFixed(0)} B/point) per request, 21 attributes per series; CPU time of one core`);
console.log(`${'per data point'.padEnd(58)} ${'cost'.padStart(10)}  ${'throughput'.padStart(13)}`);
row('baseline: official ProtobufMetricsSerializer encoding', baselineNs);
row('agent: store + snapshot + ResourceMetrics + official encoding', agentNs, `${(agentNs / baselineNs).toFixed(2)}x baseline`);
row('agent: gzip of the encoded request (grpc-js compression)', gzipNs);
row('gateway ingest, steady state: decode + delta + FlowRecords', steadyNs, steadyNs <= 5000 ? 'goal >= 200k/s: met' : 'goal >= 200k/s: NOT met');
row('gateway ingest, first sight (new streams, attributes decoded)', firstNs);
row('gateway: gunzip of the request (grpc-js, before ingest)', gunzipNs, `${(gzipped.length / POINTS_PER_REQUEST).toFixed(0)} B/point gzipped`);
console.log(`load average while measuring: ${loadavg().map((l) => l.toFixed(1)).join(' ')} (2 cores)`);
