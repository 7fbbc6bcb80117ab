/**
 * Per-packet cost of zonetap's eBPF program in the kernel, against a no-op
 * netfilter program and a kubezonnet-style reference (bench/reference.bpf.c),
 * measured in the same run; plus the user-space time to drain 100k flows.
 *
 * Cost = run_time_ns / run_cnt from the kernel's own program statistics
 * (sysctl kernel.bpf_stats_enabled=1, restored afterwards) while a 64-byte
 * UDP flood (IP length 64) runs from namespace A to B. One program is attached
 * at a time; the three alternate, ROUNDS times; the table shows medians.
 * Run alone: node bench/bpf.bench.ts (root; `make build` first).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { HOOK_PRIORITY, KernelFlowTable, openProgramFile } from '../native/index.ts';
import { ADDRESSES, NetnsPair } from '../test/support/netns.ts';
import { privilegeProblem } from '../test/support/privileges.ts';
import { goal, result } from './report.ts';

const ROUNDS = 9;
const FLOOD_SECONDS = 1.5;
const PACKET_BYTES = 64;
const DRAIN_FLOWS = 100_000;
const STATS = '/proc/sys/kernel/bpf_stats_enabled';

const problem = privilegeProblem();
if (problem) {
  console.log(`bpf.bench: skipped, ${problem}`);
  process.exit(0);
}

interface Variant {
  name: string;
  attach(): void;
  detach(): void;
  stats(): { runCnt: bigint; runTimeNs: bigint };
}

/** A baseline program from bench/ at the same hook. */
function baselineVariant(name: string, file: string, netns: string): Variant {
  const program = openProgramFile(join(import.meta.dirname, file));
  program.load();
  objects.push(program);
  let link: number | undefined;
  return {
    name,
    attach: () => (link = program.attachNetfilter(4, HOOK_PRIORITY, netns)),
    detach: () => link !== undefined && program.detach(link),
    stats: () => program.info(),
  };
}

/** zonetap's netfilter flow table (max_flows 65536, the default), IPv4 hook only. */
function zonetapVariant(netns: string): Variant {
  const table = KernelFlowTable.open({ kind: 'netfilter', maxFlows: 65536 });
  objects.push(table);
  return {
    name: 'zonetap',
    attach: () => table.attachNetfilter('ipv4', netns),
    detach: () => table.detach(),
    stats: () => table.programs().find((p) => p.name === 'count_ipv4')!,
  };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

const pair = new NetnsPair('zt-bench').create();
const statsBefore = readFileSync(STATS, 'utf8').trim();
const objects: { close(): void }[] = [];
try {
  writeFileSync(STATS, '1');
  const variants: Variant[] = [
    baselineVariant('noop', 'noop.bpf.o', pair.pathA),
    baselineVariant('reference (kubezonnet-style)', 'reference.bpf.o', pair.pathA),
    zonetapVariant(pair.pathA),
  ];

  for (const flows of [1, 64]) {
    const results = new Map<string, { ns: number[]; pps: number[] }>(variants.map((v) => [v.name, { ns: [], pps: [] }]));
    for (let round = 0; round < ROUNDS; round++) {
      // Alternate the order so drift (frequency, other load) hits every variant alike.
      const order = round % 2 ? [...variants].reverse() : variants;
      for (const variant of order) {
        variant.attach();
        const before = variant.stats();
        const { sent } = await pair.traffic(pair.a, ['flood', ADDRESSES.b4, '9', String(PACKET_BYTES - 28), String(FLOOD_SECONDS), String(flows)]);
        const after = variant.stats();
        variant.detach();
        const runs = Number(after.runCnt - before.runCnt);
        const result = results.get(variant.name)!;
        result.ns.push(Number(after.runTimeNs - before.runTimeNs) / runs);
        result.pps.push(sent / FLOOD_SECONDS);
      }
    }

    const med = (name: string) => median(results.get(name)!.ns);
    const noop = med('noop');
    console.log(`\nPer-packet cost, 64-byte UDP flood over ${flows} flow${flows > 1 ? 's (round robin)' : ''}: medians of ${ROUNDS} alternating runs of ${FLOOD_SECONDS}s`);
    console.log('program                        ns/packet   added over noop   flood pps   runs (ns/packet)');
    for (const v of variants) {
      const r = results.get(v.name)!;
      const ns = med(v.name);
      console.log(
        `${v.name.padEnd(30)} ${ns.toFixed(1).padStart(9)}   ${(ns - noop).toFixed(1).padStart(15)}   ${Math.round(median(r.pps)).toString().padStart(9)}   ${r.ns.map((x) => x.toFixed(0)).join(' ')}`,
      );
    }
    const ratio = (med('zonetap') - noop) / (med('reference (kubezonnet-style)') - noop);
    console.log(`ratio (zonetap - noop) / (reference - noop) = ${ratio.toFixed(2)}   (goal <= 0.5)`);
    result({
      measure: `eBPF added ns/packet over a no-op program, ${flows} flow${flows > 1 ? 's' : ''}`,
      value: `${(med('zonetap') - noop).toFixed(1)} ns`,
      baseline: `kubezonnet-style: ${(med('reference (kubezonnet-style)') - noop).toFixed(1)} ns`,
      goal: goal(`ratio ${ratio.toFixed(2)} <= 0.5`, ratio <= 0.5),
    });
  }

  // Drain: 100k flows (50k IPv4 + 50k IPv6, one datagram each) in the table.
  const table = KernelFlowTable.open({ kind: 'netfilter', maxFlows: 131072 });
  table.attachNetfilter('ipv4', pair.pathA);
  table.attachNetfilter('ipv6', pair.pathA);
  objects.push(table);
  await Promise.all([
    pair.traffic(pair.a, ['flows', ADDRESSES.b4, '1', String(DRAIN_FLOWS / 2), '10']),
    pair.traffic(pair.a, ['flows', ADDRESSES.b6, '1', String(DRAIN_FLOWS / 2), '10']),
  ]);
  const loopDelay = monitorEventLoopDelay({ resolution: 1 });
  loopDelay.enable();
  const started = performance.now();
  const drained = (await table.drain()).records;
  const elapsed = performance.now() - started;
  loopDelay.disable();
  const overflow = table.overflow();
  console.log(`\nDrain of ${drained.length} flows (swap tables + batched lookup-and-delete + decode): ${elapsed.toFixed(1)} ms; ` +
    `longest event-loop block ${(loopDelay.max / 1e6).toFixed(1)} ms`);
  const overflowPackets = overflow.ipv4.packets + overflow.ipv6.packets;
  result({ measure: `drain of ${drained.length} flows`, value: `${elapsed.toFixed(0)} ms, event loop blocked <= ${(loopDelay.max / 1e6).toFixed(0)} ms` });
  console.log(`flows drained + packets in overflow = ${drained.length} + ${overflowPackets} = ${drained.length + overflowPackets} (sent ${DRAIN_FLOWS} one-packet flows)`);
} finally {
  for (const o of objects.reverse()) o.close();
  writeFileSync(STATS, statsBefore);
  pair.destroy();
}
