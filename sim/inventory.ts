/**
 * The static inventory (processors/k8sattributes `source: static`) that
 * describes a simulated cluster: its nodes with their underlay addresses,
 * every pod (ephemeral ones too, so a Job's bytes resolve after its pod is
 * gone), with their UIDs (the cgroup receiver names pods by them); a
 * hostNetwork pod with its node's addresses. The internet is deliberately
 * absent: its addresses classify as internet.
 */
import { writeFileSync } from 'node:fs';
import { stringify } from 'yaml';
import type { Plan } from './topology.ts';

export interface Inventory {
  nodes: Array<{ name: string; zone: string; region: string; addresses: string[] }>;
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

export function inventoryOf(plan: Plan): Inventory {
  return {
    nodes: plan.nodes.map((n) => ({ name: n.name, zone: n.zone, region: n.region, addresses: [...n.addresses] })),
    pods: plan.pods.map((p) => ({
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

export function writeInventory(plan: Plan, path: string): void {
  const header = `# Static inventory of the simulated cluster "${plan.topology.name}" (written by sim/, do not edit).\n`;
  writeFileSync(path, header + stringify(inventoryOf(plan)));
}
