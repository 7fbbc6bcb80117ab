/**
 * What the two eBPF benchmarks share (bpf.bench.ts at netfilter POSTROUTING,
 * cgroup.bench.ts at cgroup egress): the per-packet cost of zonetap's program
 * against a no-op and a kubezonnet-style reference at the same hook, from the
 * kernel's own program statistics (kernel.bpf_stats_enabled=1) while a 64-byte
 * UDP flood runs (medians of alternating runs, read through the addon; and
 * again as a black-box run: totals read with bpftool within one minute); and
 * the time to drain a full flow table.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { openProgramFile, type KernelFlowTable, type ProgramFile } from '../native/index.ts';
import { programRunStats } from '../test/support/bpftool.ts';
import { goal, result } from './report.ts';

const STATS = '/proc/sys/kernel/bpf_stats_enabled';
export const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 9);
export const FLOOD_SECONDS = 1.5;
/** Issue 15's goal: zonetap's added cost at most this fraction of the reference's. */
export const GOAL_RATIO = 0.45;
/** Alternating rounds of the black-box run: 3 programs x this x FLOOD_SECONDS stays within a minute. */
const BLACK_BOX_ROUNDS = 4;

/** One program at the hook, attached only while it is measured. */
export interface Variant {
  name: 'noop' | 'reference (kubezonnet-style)' | 'zonetap';
  attach(): void;
  detach(): void;
  stats(): { id: number; runCnt: bigint; runTimeNs: bigint };
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
  console.log(`ratio (zonetap - noop) / (reference - noop) = ${ratio.toFixed(2)}   (goal <= ${GOAL_RATIO})`);
  result({
    measure: `${hook}: eBPF added ns/packet over a no-op program, ${flows} flow${flows > 1 ? 's' : ''}`,
    value: `${(med('zonetap') - noop).toFixed(1)} ns`,
    baseline: `kubezonnet-style: ${(med('reference (kubezonnet-style)') - noop).toFixed(1)} ns`,
    goal: goal(`ratio ${ratio.toFixed(2)} <= ${GOAL_RATIO}`, ratio <= GOAL_RATIO),
  });
}

/**
 * The same ratio from an independent black-box run: the three programs
 * alternate within one minute (BLACK_BOX_ROUNDS rounds), and their cost is
 * read as any operator would read it, from `bpftool prog show` by program id
 * (not through zonetap's addon), as total run time over total runs of all
 * rounds (not medians).
 */
export async function blackBoxCost(hook: string, variants: Variant[], flows: number, flood: (flows: number) => Promise<number>): Promise<void> {
  const totals = new Map(variants.map((v) => [v.name, { runCnt: 0, runTimeNs: 0 }]));
  const started = performance.now();
  for (let round = 0; round < BLACK_BOX_ROUNDS; round++) {
    for (const variant of round % 2 ? [...variants].reverse() : variants) {
      variant.attach();
      const id = variant.stats().id;
      const before = programRunStats(id);
      await flood(flows);
      const after = programRunStats(id);
      variant.detach();
      const t = totals.get(variant.name)!;
      t.runCnt += after.runCnt - before.runCnt;
      t.runTimeNs += after.runTimeNs - before.runTimeNs;
    }
  }
  const seconds = (performance.now() - started) / 1000;
  const ns = (name: Variant['name']) => totals.get(name)!.runTimeNs / totals.get(name)!.runCnt;
  const zonetap = ns('zonetap') - ns('noop');
  const reference = ns('reference (kubezonnet-style)') - ns('noop');
  const ratio = zonetap / reference;
  console.log(`\nBlack-box check at ${hook}, ${flows} flow${flows > 1 ? 's' : ''}: ${BLACK_BOX_ROUNDS} alternating rounds in ${seconds.toFixed(0)} s, run_time_ns / run_cnt totals from bpftool prog show`);
  for (const v of variants) console.log(`${v.name.padEnd(30)} ${ns(v.name).toFixed(1).padStart(9)} ns/run   ${totals.get(v.name)!.runCnt} runs`);
  console.log(`ratio (zonetap - noop) / (reference - noop) = ${ratio.toFixed(2)}   (goal <= ${GOAL_RATIO})`);
  result({
    measure: `${hook}: eBPF added ns/packet, black-box (bpftool prog show totals, ${BLACK_BOX_ROUNDS} alternating rounds in one minute), ${flows} flow${flows > 1 ? 's' : ''}`,
    value: `${zonetap.toFixed(1)} ns`,
    baseline: `kubezonnet-style: ${reference.toFixed(1)} ns`,
    goal: goal(`ratio ${ratio.toFixed(2)} <= ${GOAL_RATIO}`, ratio <= GOAL_RATIO),
  });
}

/** Drains `table` once (after `fill` put `sent` one-packet flows in it) and reports the time and the longest event-loop block. */
export async function measureDrain(table: KernelFlowTable, sent: number): Promise<void> {
  const loopDelay = monitorEventLoopDelay({ resolution: 1 });
  loopDelay.enable();
  const started = performance.now();
  // As a kernel receiver does it: swap and read, then decode chunk by chunk into columns.
  const { chunks } = await table.drainRaw();
  let flows = 0;
  for (const chunk of chunks) flows += table.decode(chunk).columns.length;
  const elapsed = performance.now() - started;
  loopDelay.disable();
  const overflow = table.overflow();
  const overflowPackets = overflow.ipv4.packets + overflow.ipv6.packets;
  console.log(`\nDrain of ${flows} flows (${table.kind}: swap tables + batched lookup-and-delete + decode into columns): ${elapsed.toFixed(1)} ms; longest event-loop block ${(loopDelay.max / 1e6).toFixed(1)} ms`);
  console.log(`flows drained + packets in overflow = ${flows} + ${overflowPackets} = ${flows + overflowPackets} (sent ${sent} one-packet flows)`);
  result({ measure: `${table.kind} flow table: drain of ${flows} flows`, value: `${elapsed.toFixed(0)} ms, event loop blocked <= ${(loopDelay.max / 1e6).toFixed(0)} ms` });
}
