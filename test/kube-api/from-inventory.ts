/**
 * The objects a real API server would hold for a zonetap static inventory
 * (config/inventory.example.yaml format; sim/ writes one per simulated
 * cluster): nodes with their zone labels, addresses and pod CIDRs, pods with their
 * addresses and owners (pod -> ReplicaSet -> Deployment, pod -> Job -> CronJob,
 * StatefulSet and DaemonSet directly). External blocks have no API object.
 */
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { makeJob, makeNode, makePod, makeReplicaSet } from './objects.ts';
import type { KubeObject } from './selectors.ts';

interface InventoryFile {
  nodes?: Array<{ name: string; zone?: string; region?: string; addresses?: string[]; podCIDRs?: string[] }>;
  pods?: Array<{ namespace: string; name: string; node: string; addresses?: string[]; hostNetwork?: boolean; workload?: { kind: string; name: string } }>;
}

export interface InventoryObjects {
  nodes: KubeObject[];
  replicasets: KubeObject[];
  jobs: KubeObject[];
  pods: KubeObject[];
}

export function objectsFromInventory(file: string): InventoryObjects {
  const inventory = parse(readFileSync(file, 'utf8')) as InventoryFile;
  const out: InventoryObjects = { nodes: [], replicasets: [], jobs: [], pods: [] };
  for (const n of inventory.nodes ?? []) out.nodes.push(makeNode({ name: n.name, zone: n.zone, region: n.region, internalIPs: n.addresses ?? [], podCIDRs: n.podCIDRs }));
  const controllers = new Set<string>();
  for (const p of inventory.pods ?? []) {
    let owner: { kind: string; name: string } | undefined;
    const w = p.workload;
    if (w?.kind === 'Deployment' || w?.kind === 'CronJob') {
      // The controller in between, named as Kubernetes names it (a hash or a schedule suffix).
      const kind = w.kind === 'Deployment' ? 'ReplicaSet' : 'Job';
      owner = { kind, name: `${w.name}-${w.kind === 'Deployment' ? '5f7c9d' : '29000'}` };
      if (!controllers.has(`${p.namespace}/${kind}/${owner.name}`)) {
        controllers.add(`${p.namespace}/${kind}/${owner.name}`);
        if (kind === 'ReplicaSet') out.replicasets.push(makeReplicaSet(p.namespace, owner.name, w.name));
        else out.jobs.push(makeJob(p.namespace, owner.name, w.name));
      }
    } else if (w !== undefined && w.kind !== 'Pod') {
      owner = w;
    }
    out.pods.push(makePod({ namespace: p.namespace, name: p.name, node: p.node, ips: p.addresses ?? [], hostNetwork: p.hostNetwork, owner }));
  }
  return out;
}
