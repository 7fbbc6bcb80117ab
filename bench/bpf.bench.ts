/**
 * Per-packet cost of zonetap's netfilter program (bpf/netfilter.bpf.c) at
 * POSTROUTING, against a no-op netfilter program and a kubezonnet-style
 * reference (bench/reference.bpf.c), measured in the same run (bpf-cost.ts);
 * plus the time to drain 100k flows. Run alone: node bench/bpf.bench.ts
 * (root; `make build` first).
 */
import { join } from 'node:path';
import { HOOK_PRIORITY, KernelFlowTable, type ProgramFile } from '../native/index.ts';
import { ADDRESSES, NetnsPair } from '../test/support/netns.ts';
import { privilegeProblem } from '../test/support/privileges.ts';
import { FLOOD_SECONDS, baselineVariant, blackBoxCost, compareCost, measureDrain, withBpfStats, type Variant } from './bpf-cost.ts';

const PACKET_BYTES = 64;
const DRAIN_FLOWS = 100_000;

const problem = privilegeProblem();
if (problem) {
  console.log(`bpf.bench: skipped, ${problem}`);
  process.exit(0);
}

const pair = new NetnsPair('zt-bench').create();
const objects: { close(): void }[] = [];

/** zonetap's netfilter flow table (max_flows 65536, the default), IPv4 hook only. */
function zonetapVariant(): Variant {
  const table = KernelFlowTable.open({ kind: 'netfilter', maxFlows: 65536 });
  objects.push(table);
  return {
    name: 'zonetap',
    attach: () => table.attachNetfilter('ipv4', pair.pathA),
    detach: () => table.detach(),
    stats: () => table.programs().find((p) => p.name === 'count_ipv4')!,
  };
}

try {
  await withBpfStats(async () => {
    const attach = (p: ProgramFile) => p.attachNetfilter(4, HOOK_PRIORITY, pair.pathA);
    const variants = [baselineVariant('noop', join(import.meta.dirname, 'noop.bpf.o'), attach, objects), baselineVariant('reference (kubezonnet-style)', join(import.meta.dirname, 'reference.bpf.o'), attach, objects), zonetapVariant()];
    const flood = async (flows: number) => (await pair.traffic(pair.a, ['flood', ADDRESSES.b4, '9', String(PACKET_BYTES - 28), String(FLOOD_SECONDS), String(flows)])).sent as number;
    for (const flows of [1, 64]) await compareCost('netfilter POSTROUTING', variants, flows, flood);
    for (const flows of [1, 64]) await blackBoxCost('netfilter POSTROUTING', variants, flows, flood);
  });

  // Drain: 100k flows (50k IPv4 + 50k IPv6, one datagram each) in the table.
  const table = KernelFlowTable.open({ kind: 'netfilter', maxFlows: 131072 });
  objects.push(table);
  table.attachNetfilter('ipv4', pair.pathA);
  table.attachNetfilter('ipv6', pair.pathA);
  await Promise.all([
    pair.traffic(pair.a, ['flows', ADDRESSES.b4, '1', String(DRAIN_FLOWS / 2), '10']),
    pair.traffic(pair.a, ['flows', ADDRESSES.b6, '1', String(DRAIN_FLOWS / 2), '10']),
  ]);
  await measureDrain(table, DRAIN_FLOWS);
} finally {
  for (const o of objects.reverse()) o.close();
  pair.destroy();
}
