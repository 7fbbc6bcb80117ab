/**
 * Records per second through processors/crosszone and processors/aggregate on
 * one core, for batches of 100k flows between 10k pods (plus internet and
 * unresolved destinations). Baseline: copying the batch (cloneBatch), which
 * the pipeline's fan-out pays anyway for consumers that change batches.
 * Run alone: node --expose-gc bench/processors.bench.ts
 */
import { cloneBatch, type FlowBatch, type FlowEndpoint, type FlowRecord } from '../pipeline/flow.ts';
import { testSettings, RecordingConsumer } from '../pipeline/testing.ts';
import { CrosszoneProcessor } from '../processors/crosszone/index.ts';
import { AggregateProcessor, type AggregationLevel } from '../processors/aggregate/index.ts';

const PODS = 10_000;
const FLOWS = 100_000;
const ROUNDS = 10;

/** Deterministic pseudo-random numbers (mulberry32), so every run measures the same batch. */
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A resolved pod endpoint, as k8sattributes leaves it. */
function podEndpoint(i: number): FlowEndpoint {
  const zone = i % 3;
  const workload = `app-${i % 500}`;
  return {
    address: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`,
    port: 0,
    namespace: `ns-${i % 40}`,
    pod: `${workload}-${(i * 2654435761) % 100000}`,
    workloadKind: 'Deployment',
    workloadName: workload,
    node: `node-${zone}-${i % 50}`,
    zone: `zone-${zone}`,
    region: 'region-1',
  };
}

export function makeBatch(pods = PODS, flows = FLOWS): FlowBatch {
  const rnd = random(42);
  const endpoints = Array.from({ length: pods }, (_, i) => podEndpoint(i));
  const records: FlowRecord[] = [];
  for (let i = 0; i < flows; i++) {
    const src = { ...endpoints[Math.floor(rnd() * pods)]!, port: 1024 + Math.floor(rnd() * 60000) };
    const pick = rnd();
    const dst: FlowEndpoint =
      pick < 0.8
        ? { ...endpoints[Math.floor(rnd() * pods)]!, port: [80, 443, 5432, 6379][i % 4]! }
        : pick < 0.9
          ? { address: `${34 + (i % 50)}.${i % 256}.${(i >> 8) % 256}.${i % 200}`, port: 443 }
          : { address: `172.20.${i % 256}.${(i >> 8) % 256}`, port: 53 };
    records.push({ src, dst, transport: i % 10 === 0 ? 'udp' : 'tcp', ipFamily: 'ipv4', bytes: 100 + (i % 1500), packets: 1 + (i % 10) });
  }
  return { start: 0, end: 10_000, records };
}

function measure(name: string, template: FlowBatch, run: (batch: FlowBatch) => void): { name: string; perSecond: number; out: number } {
  let total = 0;
  let out = 0;
  for (let round = -2; round < ROUNDS; round++) {
    const batch = cloneBatch(template);
    globalThis.gc?.();
    const t0 = process.hrtime.bigint();
    run(batch);
    const elapsed = Number(process.hrtime.bigint() - t0) / 1e9;
    if (round >= 0) total += elapsed; // two warm-up rounds
    out = batch.records.length;
  }
  return { name, perSecond: (template.records.length * ROUNDS) / total, out };
}

const template = makeBatch();
const sink = new RecordingConsumer();
const crosszone = new CrosszoneProcessor(testSettings('crosszone', 'processor'), {}, sink);
const aggregators = Object.fromEntries(
  (['pod', 'workload', 'namespace'] as AggregationLevel[]).map((by) => [by, new AggregateProcessor(testSettings(`aggregate/${by}`, 'processor'), { by }, sink)]),
) as Record<AggregationLevel, AggregateProcessor>;

const rows = [
  measure('baseline: cloneBatch', template, () => undefined),
  measure('crosszone', template, (b) => crosszone.classifyBatch(b)),
  measure('aggregate by pod', template, (b) => aggregators.pod.aggregateBatch(b)),
  measure('aggregate by workload', template, (b) => aggregators.workload.aggregateBatch(b)),
  measure('aggregate by namespace', template, (b) => aggregators.namespace.aggregateBatch(b)),
  measure('crosszone -> aggregate by workload', template, (b) => {
    crosszone.classifyBatch(b);
    aggregators.workload.aggregateBatch(b);
  }),
];
// The baseline row times the clone itself.
{
  let total = 0;
  for (let round = -2; round < ROUNDS; round++) {
    globalThis.gc?.();
    const t0 = process.hrtime.bigint();
    cloneBatch(template);
    if (round >= 0) total += Number(process.hrtime.bigint() - t0) / 1e9;
  }
  rows[0] = { name: 'baseline: cloneBatch', perSecond: (template.records.length * ROUNDS) / total, out: template.records.length };
}

console.log(`${PODS} pods, ${FLOWS} flows per batch, ${ROUNDS} batches per row, one core (node ${process.version})`);
console.log(`${'stage'.padEnd(38)} ${'records/s'.padStart(12)} ${'records out'.padStart(12)}`);
for (const row of rows) console.log(`${row.name.padEnd(38)} ${Math.round(row.perSecond).toLocaleString('en-US').padStart(12)} ${String(row.out).padStart(12)}`);
