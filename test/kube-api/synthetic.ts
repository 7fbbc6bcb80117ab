/** A synthetic cluster of realistic objects for benchmarks: pods spread over nodes and zones, grouped in Deployments. */
import type { KubeObject } from './selectors.ts';
import { makeNode, makePod, makeReplicaSet } from './objects.ts';

export interface SyntheticCluster {
  nodes: KubeObject[];
  replicasets: KubeObject[];
  pods: KubeObject[];
  /** Pod addresses in creation order (pod i has podAddress(i)). */
  podAddresses: string[];
  nodeAddresses: string[];
}

export function podAddress(i: number): string {
  return `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
}

export function syntheticCluster(pods: number, nodes: number, zones: number): SyntheticCluster {
  const c: SyntheticCluster = { nodes: [], replicasets: [], pods: [], podAddresses: [], nodeAddresses: [] };
  for (let n = 0; n < nodes; n++) {
    const address = `192.168.${n >> 8}.${(n & 255) + 1}`;
    c.nodes.push(makeNode({ name: `node-${n}`, zone: `zone-${n % zones}`, region: 'region-1', internalIPs: [address] }));
    c.nodeAddresses.push(address);
  }
  const perDeployment = 10;
  for (let i = 0; i < pods; i++) {
    const d = Math.floor(i / perDeployment);
    const namespace = `team-${d % 50}`;
    if (i % perDeployment === 0) c.replicasets.push(makeReplicaSet(namespace, `app-${d}-5f7c9d`, `app-${d}`));
    const address = podAddress(i);
    c.pods.push(makePod({ namespace, name: `app-${d}-5f7c9d-${(i % perDeployment).toString(36)}x${i.toString(36)}`, node: `node-${i % nodes}`, ips: [address], owner: { kind: 'ReplicaSet', name: `app-${d}-5f7c9d` } }));
    c.podAddresses.push(address);
  }
  return c;
}
