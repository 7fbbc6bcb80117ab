/**
 * A synthetic cluster of realistic objects for benchmarks: pods spread over
 * nodes and zones, grouped in Deployments, each Deployment behind a Service
 * (port 443) with one EndpointSlice of its pods, in 50 namespaces labelled
 * with a team.
 */
import type { KubeObject } from './selectors.ts';
import { makeEndpointSlice, makeNamespace, makeNode, makePod, makeReplicaSet, makeService } from './objects.ts';

export interface SyntheticCluster {
  nodes: KubeObject[];
  replicasets: KubeObject[];
  pods: KubeObject[];
  namespaces: KubeObject[];
  services: KubeObject[];
  endpointslices: KubeObject[];
  /** Pod addresses in creation order (pod i has podAddress(i)). */
  podAddresses: string[];
  nodeAddresses: string[];
}

export function podAddress(i: number): string {
  return `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
}

/** `services: false` leaves out Services and EndpointSlices (a benchmark's cluster without them, for the difference). */
export function syntheticCluster(pods: number, nodes: number, zones: number, options: { services?: boolean } = {}): SyntheticCluster {
  const c: SyntheticCluster = { nodes: [], replicasets: [], pods: [], namespaces: [], services: [], endpointslices: [], podAddresses: [], nodeAddresses: [] };
  for (let t = 0; t < Math.min(50, Math.ceil(pods / 10)); t++) c.namespaces.push(makeNamespace({ name: `team-${t}`, labels: { team: `team-${t % 10}` } }));
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
  if (options.services === false) return c;
  for (let d = 0; d * perDeployment < pods; d++) {
    const namespace = `team-${d % 50}`;
    c.services.push(makeService({ namespace, name: `app-${d}`, clusterIPs: [`10.96.${(d >> 8) & 255}.${d & 255}`], ports: [{ port: 443 }] }));
    const members = c.pods.slice(d * perDeployment, (d + 1) * perDeployment);
    const endpoints = members.map((p) => ({ address: (p.status as { podIP: string }).podIP, pod: p.metadata.name, node: (p.spec as { nodeName: string }).nodeName }));
    c.endpointslices.push(makeEndpointSlice({ namespace, name: `app-${d}-x7k2p`, service: `app-${d}`, endpoints, ports: [{ port: 443 }] }));
  }
  return c;
}
