/**
 * What the two eBPF benchmarks share (bpf.bench.ts at netfilter POSTROUTING,
 * cgroup.bench.ts at cgroup egress): the per-packet cost of zonetap's program
 * against a no-op and a kubezonnet-style reference at the same hook, from the
 * kernel's own program statistics (kernel.bpf_stats_enabled=1) while a 64-byte
 * UDP flood runs; and the time to drain a full flow table.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { openProgramFile, type KernelFlowTable, type ProgramFile } from '../native/index.ts';
import { goal, result } from './report.ts';

const STATS = '/proc/sys/kernel/bpf_stats_enabled';
export const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 9);
export const FLOOD_SECONDS = 1.5;

/** One program at the hook, attached only while it is measured. */
export interface Variant {
  name: 'noop' | 'reference (kubezonnet-style)' | 'zonetap';
  attach(): void;
  detach(): void;
  stats(): { runCnt: bigint; runTimeNs: bigint };
}

/** A baseline program (an object file of bench/) attached by `attach`; `owned` collects it for closing. */
export function baselineVariant(name: Variant['name'], path: string, attach: (program: ProgramFile) => number, owned: { close(): void }[]): Variant {
  const program = openProgramFile(path);
  program.load();
  owned.push(program);
  let link: number | undefined;
  return {
    name,
    attach: () => (link = attach(program)),
    detach: () => link !== undefined && program.detach(link),
    stats: () => program.info(),
  };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Runs `body` with kernel.bpf_stats_enabled=1, restoring the setting after. */
export async function withBpfStats<T>(body: () => Promise<T>): Promise<T> {
  const before = readFileSync(STATS, 'utf8').trim();
  writeFileSync(STATS, '1');
  try {
    return await body();
  } finally {
    writeFileSync(STATS, before);
  }
}

/**
 * Per-packet cost of each variant over `flows` flows (`flood(flows)` sends
 * and returns the datagrams sent): ROUNDS alternating runs, medians; prints
 * the table and hands the headline to result().
 */
export async function compareCost(hook: string, variants: Variant[], flows: number, flood: (flows: number) => Promise<number>): Promise<void> {
  const results = new Map<string, { ns: number[]; pps: number[] }>(variants.map((v) => [v.name, { ns: [], pps: [] }]));
  for (let round = 0; round < ROUNDS; round++) {
    // Alternate the order so drift (frequency, other load) hits every variant alike.
    const order = round % 2 ? [...variants].reverse() : variants;
    for (const variant of order) {
      variant.attach();
      const before = variant.stats();
      const sent = await flood(flows);
      const after = variant.stats();
      variant.detach();
      const runs = Number(after.runCnt - before.runCnt);
      const r = results.get(variant.name)!;
      r.ns.push(Number(after.runTimeNs - before.runTimeNs) / runs);
      r.pps.push(sent / FLOOD_SECONDS);
    }
  }
  const med = (name: string) => median(results.get(name)!.ns);
  const noop = med('noop');
  console.log(`\nPer-packet cost at ${hook}, 64-byte UDP flood over ${flows} flow${flows > 1 ? 's (round robin)' : ''}: medians of ${ROUNDS} alternating runs of ${FLOOD_SECONDS}s`);
  console.log('program                        ns/packet   added over noop   flood pps   runs (ns/packet)');
  for (const v of variants) {
    const r = results.get(v.name)!;
    const ns = med(v.name);
    console.log(`${v.name.padEnd(30)} ${ns.toFixed(1).padStart(9)}   ${(ns - noop).toFixed(1).padStart(15)}   ${Math.round(median(r.pps)).toString().padStart(9)}   ${r.ns.map((x) => x.toFixed(0)).join(' ')}`);
  }
  const ratio = (med('zonetap') - noop) / (med('reference (kubezonnet-style)') - noop);
  console.log(`ratio (zonetap - noop) / (reference - noop) = ${ratio.toFixed(2)}   (goal <= 0.5)`);
  result({
    measure: `${hook}: eBPF added ns/packet over a no-op program, ${flows} flow${flows > 1 ? 's' : ''}`,
    value: `${(med('zonetap') - noop).toFixed(1)} ns`,
    baseline: `kubezonnet-style: ${(med('reference (kubezonnet-style)') - noop).toFixed(1)} ns`,
    goal: goal(`ratio ${ratio.toFixed(2)} <= 0.5`, ratio <= 0.5),
  });
}

/** Drains `table` once (after `fill` put `sent` one-packet flows in it) and reports the time and the longest event-loop block. */
export async function measureDrain(table: KernelFlowTable, sent: number): Promise<void> {
  const loopDelay = monitorEventLoopDelay({ resolution: 1 });
  loopDelay.enable();
  const started = performance.now();
  const drained = (await table.drain()).records;
  const elapsed = performance.now() - started;
  loopDelay.disable();
  const overflow = table.overflow();
  const overflowPackets = overflow.ipv4.packets + overflow.ipv6.packets;
  console.log(`\nDrain of ${drained.length} flows (${table.kind}: swap tables + batched lookup-and-delete + decode): ${elapsed.toFixed(1)} ms; longest event-loop block ${(loopDelay.max / 1e6).toFixed(1)} ms`);
  console.log(`flows drained + packets in overflow = ${drained.length} + ${overflowPackets} = ${drained.length + overflowPackets} (sent ${sent} one-packet flows)`);
  result({ measure: `${table.kind} flow table: drain of ${drained.length} flows`, value: `${elapsed.toFixed(0)} ms, event loop blocked <= ${(loopDelay.max / 1e6).toFixed(0)} ms` });
}
