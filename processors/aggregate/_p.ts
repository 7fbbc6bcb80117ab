import { cloneBatch, type FlowBatch, type FlowEndpoint, type FlowRecord } from '../../pipeline/flow.ts';
import { rollUp, RollUp } from './rollup.ts';
const keeper = new RollUp('workload');
import { RollUp as RollUp2 } from './_r2.ts';
const keeper2 = new RollUp2('workload');
const PODS = 10_000, FLOWS = 100_000;
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
function makeBatch(scenario: 'realistic' | 'worst', pods = PODS, flows = FLOWS): FlowBatch {
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


const t = makeBatch('realistic');
const cpu = (f: () => void) => { const c0 = process.cpuUsage(); f(); const c = process.cpuUsage(c0); return ((c.user + c.system) / 1e3).toFixed(0) + 'ms'; };
for (let i = 0; i < 6; i++) {
  const b = cloneBatch(t);
  (globalThis as any).gc?.();
  const m = new Map<string, number>();
  const a = cpu(() => { for (const r of b.records) { m.set(r.src.address, 1); m.set(r.dst.address, 1); } });
  const a2 = cpu(() => { let n = 0; for (const r of b.records) { n += m.get(r.src.address)! + m.get(r.dst.address)!; } });
  const c = cpu(() => rollUp(b.records, 'workload'));
  const d = cpu(() => keeper.records(b.records));
  const g = cpu(() => keeper2.records(b.records));
  console.log('no group objects', g);
  console.log('address map set', a, 'get', a2, 'rollUp', c, 'persistent', d);
}
