/**
 * The static inventory (processors/k8sattributes `source: static`) that
 * describes a simulated cluster: its nodes with their underlay addresses and
 * pod CIDRs, and its pods with their UIDs (the cgroup receiver names pods by
 * them); a hostNetwork pod with its node's addresses. By default every pod,
 * ephemeral ones too; sim/deployment.ts lists an ephemeral pod only once it
 * has started, as the API server would, so a Job's pod reaches the agents
 * after its first flows. The internet is deliberately absent: its addresses
 * classify as internet.
 */
import { renameSync, writeFileSync } from 'node:fs';
import { stringify } from 'yaml';
import type { Plan, PlannedPod } from './topology.ts';

export interface Inventory {
  nodes: Array<{ name: string; zone: string; region: string; addresses: string[]; podCIDRs: string[] }>;
  pods: Array<{
    namespace: string;
    name: string;
    workload?: { kind: string; name: string };
    node: string;
    uid: string;
    addresses: string[];
    hostNetwork?: true;
  }>;
}

/** The inventory of `plan`, with the pods `listed` says (default: all). */
export function inventoryOf(plan: Plan, listed: (pod: PlannedPod) => boolean = () => true): Inventory {
  return {
    nodes: plan.nodes.map((n) => ({ name: n.name, zone: n.zone, region: n.region, addresses: [...n.addresses], podCIDRs: [...n.podCidrs] })),
    pods: plan.pods.filter(listed).map((p) => ({
      namespace: p.spec.namespace,
      name: p.spec.name,
      ...(p.spec.workload ? { workload: { kind: p.spec.workload.kind, name: p.spec.workload.name } } : {}),
      node: p.node.name,
      uid: p.uid,
      addresses: [...p.addresses],
      ...(p.spec.hostNetwork ? { hostNetwork: true as const } : {}),
    })),
  };
}

/**
 * Writes the inventory to `path`, whole: written beside it and renamed over
 * it, so a zonetap reloading the file never reads half of it.
 */
export function writeInventory(plan: Plan, path: string, listed?: (pod: PlannedPod) => boolean): void {
  const header = `# Static inventory of the simulated cluster "${plan.topology.name}" (written by sim/, do not edit).\n`;
  writeFileSync(`${path}.tmp`, header + stringify(inventoryOf(plan, listed)));
  renameSync(`${path}.tmp`, path);
}
