/**
 * Records per second through processors/crosszone and processors/aggregate on
 * one core, for batches of 100k flows between 10k pods (plus internet and
 * unresolved destinations), given as records and as columns (the same flows,
 * as the kernel receivers and k8sattributes hand them on; made untimed).
 * Baseline: copying the batch of records (cloneBatch), which the pipeline's
 * fan-out pays anyway for consumers that change batches.
 * Run alone: node --expose-gc bench/processors.bench.ts
 */
import { ColumnBatch, cloneBatch, columnsFromRecords } from '../pipeline/columns.ts';
import { flowCount, type FlowBatch, type FlowEndpoint, type FlowRecord } from '../pipeline/flow.ts';
import { classifyBatches } from '../processors/crosszone/index.ts';
import { aggregateBatches, type AggregationLevel } from '../processors/aggregate/index.ts';
import { result } from './report.ts';

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

/**
 * A batch of `flows` records between `pods` pods. `realistic`: each workload
 * calls three others, internet traffic goes to 1,000 remote addresses and 500
 * private addresses nobody claims; `worst`: every pod talks to any pod and
 * every remote address is new, so roll-up hardly merges anything.
 */
export function makeBatch(scenario: 'realistic' | 'worst', pods = PODS, flows = FLOWS): FlowBatch {
  const rnd = random(42);
  const endpoints = Array.from({ length: pods }, (_, i) => podEndpoint(i));
  const workloads = 500;
  const podsOf = Array.from({ length: workloads }, (_, w) => endpoints.filter((_, i) => i % workloads === w));
  const calls = Array.from({ length: workloads }, () => [0, 1, 2].map(() => Math.floor(rnd() * workloads)));
  const remote = Array.from({ length: 1000 }, (_, i) => `${34 + (i % 50)}.${i % 256}.${(i * 7) % 256}.${i % 200}`);
  const unclaimed = Array.from({ length: 500 }, (_, i) => `172.20.${i % 256}.${i >> 8}`);
  const records: FlowRecord[] = [];
  for (let i = 0; i < flows; i++) {
    const srcIndex = Math.floor(rnd() * pods);
    const src = { ...endpoints[srcIndex]!, port: 1024 + Math.floor(rnd() * 60000) };
    const pick = rnd();
    let dst: FlowEndpoint;
    if (pick < 0.8) {
      const target = scenario === 'worst' ? endpoints[Math.floor(rnd() * pods)]! : pickFrom(podsOf[calls[srcIndex % workloads]![Math.floor(rnd() * 3)]!]!, rnd);
      dst = { ...target, port: [80, 443, 5432, 6379][i % 4]! };
    } else if (pick < 0.9) {
      dst = { address: scenario === 'worst' ? `${34 + (i % 50)}.${i % 256}.${(i >> 8) % 256}.${i % 200}` : pickFrom(remote, rnd), port: 443 };
    } else {
      dst = { address: scenario === 'worst' ? `172.20.${i % 256}.${(i >> 8) % 256}` : pickFrom(unclaimed, rnd), port: 53 };
    }
    records.push({ src, dst, transport: i % 10 === 0 ? 'udp' : 'tcp', ipFamily: 'ipv4', bytes: 100 + (i % 1500), packets: 1 + (i % 10) });
  }
  return { start: 0, end: 10_000, records };
}

function pickFrom<T>(items: readonly T[], rnd: () => number): T {
  return items[Math.floor(rnd() * items.length)]!;
}

/**
 * CPU seconds (user + system) this process spent in `fn`: other processes on
 * the machine do not count, unlike wall time. GC helper threads do, so the
 * figures are, if anything, low.
 */
function cpuSeconds(fn: () => void): number {
  const before = process.cpuUsage();
  fn();
  const used = process.cpuUsage(before);
  return (used.user + used.system) / 1e6;
}

/** Records per CPU second of `run` over ROUNDS fresh copies of `template`, after two warm-up rounds. */
function measure(name: string, template: FlowBatch, run: (batch: FlowBatch) => void): { name: string; perSecond: number; out: number } {
  let total = 0;
  let out = 0;
  for (let round = -2; round < ROUNDS; round++) {
    const batch = cloneBatch(template);
    globalThis.gc?.();
    const seconds = cpuSeconds(() => run(batch));
    if (round >= 0) total += seconds;
    out = flowCount(batch);
  }
  return { name, perSecond: (flowCount(template) * ROUNDS) / total, out };
}

// The processors' batch functions, as their factories build them (without the hand-off to a next consumer).
const classify = classifyBatches({});
const aggregators = Object.fromEntries((['pod', 'workload', 'namespace'] as AggregationLevel[]).map((by) => [by, aggregateBatches({ by })])) as Record<
  AggregationLevel,
  (batch: FlowBatch) => void
>;

/** Records per CPU second of copying the batch: the baseline. */
function baseline(template: FlowBatch): { name: string; perSecond: number; out: number } {
  let total = 0;
  for (let round = -2; round < ROUNDS; round++) {
    globalThis.gc?.();
    const seconds = cpuSeconds(() => cloneBatch(template));
    if (round >= 0) total += seconds;
  }
  return { name: 'baseline: cloneBatch', perSecond: (template.records.length * ROUNDS) / total, out: template.records.length };
}

console.log(`${PODS} pods, ${FLOWS} flows per batch, ${ROUNDS} batches per row, records per CPU second on one thread (node ${process.version})`);
for (const scenario of ['realistic', 'worst'] as const) {
  const template = makeBatch(scenario);
  // The same flows as columns: one end per distinct endpoint, ports in the rows.
  const columns = new ColumnBatch(template.start, template.end, columnsFromRecords(template.records));
  const chain = (b: FlowBatch) => {
    classify(b);
    aggregators.workload(b);
  };
  const rows = [
    baseline(template),
    measure('crosszone', template, classify),
    measure('aggregate by pod', template, aggregators.pod),
    measure('aggregate by workload', template, aggregators.workload),
    measure('aggregate by namespace', template, aggregators.namespace),
    measure('crosszone -> aggregate by workload', template, chain),
    measure('columns: crosszone', columns, classify),
    measure('columns: aggregate by pod', columns, aggregators.pod),
    measure('columns: aggregate by workload', columns, aggregators.workload),
    measure('columns: aggregate by namespace', columns, aggregators.namespace),
    measure('columns: crosszone -> aggregate by workload', columns, chain),
  ];
  console.log(`\n${scenario} traffic`);
  console.log(`${'stage'.padEnd(46)} ${'records/s'.padStart(12)} ${'vs baseline'.padStart(12)} ${'records out'.padStart(12)}`);
  const chainRow = (input: string) => rows.find((r) => r.name === `${input}crosszone -> aggregate by workload`)!;
  for (const [input, label] of [['', ''], ['columns: ', ', columns input']] as const) {
    result({ measure: `crosszone -> aggregate by workload, ${FLOWS} flows/batch, ${scenario} traffic${label}`, value: `${(chainRow(input).perSecond / 1e6).toFixed(2)} M records/CPU-s`, baseline: `cloneBatch: ${(rows[0]!.perSecond / 1e6).toFixed(2)} M` });
  }
  for (const row of rows) {
    const ratio = (row.perSecond / rows[0]!.perSecond).toFixed(2) + 'x';
    console.log(`${row.name.padEnd(46)} ${Math.round(row.perSecond).toLocaleString('en-US').padStart(12)} ${ratio.padStart(12)} ${String(row.out).padStart(12)}`);
  }
}
// Machine speed, to read the figures above against: one Map lookup of a short string key.
{
  const keys = Array.from({ length: 10_000 }, (_, i) => `10.${i >> 8}.${i & 255}.${i % 7}`);
  const map = new Map(keys.map((k, i) => [k, i]));
  let sum = 0;
  const seconds = cpuSeconds(() => {
    for (let j = 0; j < 2_000_000; j++) sum += map.get(keys[(j * 7919) % 10_000]!)!;
  });
  console.log(`\ncalibration: ${((seconds / 2_000_000) * 1e9).toFixed(0)} ns per Map.get of a string key (${sum > 0 ? 'ok' : ''}); an idle modern x86 core typically takes 10-25 ns`);
}
console.log(`load average during the run: ${(await import('node:os')).loadavg().map((l) => l.toFixed(1)).join(' ')} (on ${(await import('node:os')).availableParallelism()} CPUs)`);
