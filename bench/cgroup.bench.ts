/**
 * Per-packet cost of zonetap's cgroup program (bpf/cgroup.bpf.c) at cgroup_skb
 * egress, against a no-op cgroup_skb program (bench/noop-cgroup.bpf.c) and the
 * kubezonnet-style reference run at the same hook (bench/reference-cgroup.bpf.c),
 * measured in the same run (bpf-cost.ts), 1 and 64 flows; plus the time to
 * drain 1M flows. The flood runs in a cgroup the benchmark creates, the
 * programs are attached to it one at a time. Run alone: node bench/cgroup.bench.ts
 * (root; `make build` first).
 */
import { join } from 'node:path';
import { KernelFlowTable, type ProgramFile } from '../native/index.ts';
import { KubeletCgroups } from '../test/support/cgroups.ts';
import { ADDRESSES, NetnsPair } from '../test/support/netns.ts';
import { privilegeProblem } from '../test/support/privileges.ts';
import { FLOOD_SECONDS, baselineVariant, blackBoxCost, compareCost, measureDrain, withBpfStats, type Variant } from './bpf-cost.ts';

const PACKET_BYTES = 64;
const DRAIN_FLOWS = Number(process.env.BENCH_DRAIN_FLOWS ?? 1_000_000);
/** Senders filling the table for the drain: each sends to every port of its share from its own source port. */
const FILL_SENDERS = 16;

const problem = privilegeProblem('cgroup');
if (problem) {
  console.log(`cgroup.bench: skipped, ${problem}`);
  process.exit(0);
}

const pair = new NetnsPair('zt-cgbench').create();
const cgroups = new KubeletCgroups(`zt-cgbench-${process.pid}`);
const pod = cgroups.pod();
const objects: { close(): void }[] = [];

/** zonetap's cgroup flow table (max_flows 65536, the default). */
function zonetapVariant(): Variant {
  const table = KernelFlowTable.open({ kind: 'cgroup', maxFlows: 65536 });
  objects.push(table);
  return {
    name: 'zonetap',
    attach: () => table.attachCgroup(pod.container),
    detach: () => table.detach(),
    stats: () => table.programs()[0]!,
  };
}

try {
  await withBpfStats(async () => {
    const attach = (p: ProgramFile) => p.attachCgroup(pod.container);
    const variants = [baselineVariant('noop', join(import.meta.dirname, 'noop-cgroup.bpf.o'), attach, objects), baselineVariant('reference (kubezonnet-style)', join(import.meta.dirname, 'reference-cgroup.bpf.o'), attach, objects), zonetapVariant()];
    const flood = async (flows: number) =>
      (await pair.traffic(pair.a, ['flood', ADDRESSES.b4, '9', String(PACKET_BYTES - 28), String(FLOOD_SECONDS), String(flows)], undefined, pod.container)).sent as number;
    for (const flows of [1, 64]) await compareCost('cgroup_skb egress', variants, flows, flood);
    for (const flows of [1, 64]) await blackBoxCost('cgroup_skb egress', variants, flows, flood);
  });

  // Drain: 1M one-packet flows in the table (16 senders x 62,500 destination ports).
  const table = KernelFlowTable.open({ kind: 'cgroup', maxFlows: 1_200_000 });
  objects.push(table);
  table.attachCgroup(pod.container);
  const share = DRAIN_FLOWS / FILL_SENDERS;
  await Promise.all(Array.from({ length: FILL_SENDERS }, () => pair.traffic(pair.a, ['flows', ADDRESSES.b4, '1', String(share), '10'], undefined, pod.container)));
  await measureDrain(table, DRAIN_FLOWS);
} finally {
  for (const o of objects.reverse()) o.close();
  cgroups.remove();
  pair.destroy();
}
