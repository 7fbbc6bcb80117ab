/**
 * Both kernel receivers in one process (README.md, "Both receivers on one
 * node"): a pod's packet is counted at its socket by the cgroup program and
 * would be counted again by the netfilter program after the node forwards it.
 * Each receiver declares itself when it is built; at start each asks here how
 * to open its flow table: with a cgroup receiver present the cgroup object
 * records the sources it counts and the netfilter object skips them, both
 * through one shared map (bpf/socket_sources.bpf.h). Alone, neither touches it.
 */
import { ZonetapError } from '../../pipeline/errors.ts';
import type { FlowTableKind, KernelFlowTable, SocketSourcesOptions } from '../../native/index.ts';

const declared = new Map<FlowTableKind, number>();
/** The cgroup receivers' cgroups (their ids), each known once asked. */
const cgroups: Array<() => number> = [];
/** Open flow tables using the shared map: the first created it, the others share it. */
const open = new Set<KernelFlowTable>();

/** A receiver of `kind` exists in this process (called when it is built); a cgroup receiver says how to find its cgroup's id. */
export function declareKernelReceiver(kind: FlowTableKind, cgroupId?: () => number): void {
  declared.set(kind, (declared.get(kind) ?? 0) + 1);
  if (cgroupId) cgroups.push(cgroupId);
}

/** How a `kind` flow table of `maxFlows` shares socket sources, or undefined when it runs alone. */
export function socketSourcesFor(kind: FlowTableKind, maxFlows: number): SocketSourcesOptions | undefined {
  if (!declared.get('cgroup') || !declared.get('netfilter')) return undefined;
  const shareWith = open.values().next().value;
  // Active flows' sources stay: the netfilter program looks each packet's source up.
  const entries = 2 * maxFlows;
  if (kind === 'cgroup') return { mode: 'record', entries, ...(shareWith ? { shareWith } : {}) };
  if (cgroups.length !== 1) {
    throw new ZonetapError('ZT_BPF', `a netfilter receiver can run beside one cgroup receiver in a process, not ${cgroups.length}: it must know which sockets the cgroup receiver counts`);
  }
  return { mode: 'skip', entries, cgroupId: cgroups[0]!(), ...(shareWith ? { shareWith } : {}) };
}

/** A flow table opened with socketSourcesFor() options. */
export function sharingOpened(table: KernelFlowTable): void {
  open.add(table);
}

/** A flow table that shared socket sources is closed. */
export function sharingClosed(table: KernelFlowTable): void {
  open.delete(table);
}
