/**
 * Test support: flow records shaped like the output of k8sattributes (and
 * crosszone and cost), built one by one (pod(), flow()) or resolved from raw
 * flows in a model of a cluster held in memory (ClusterModel; sim/cluster.ts's
 * Cluster is the one built in network namespaces): nodes in zones, workloads
 * with pods, raw flows between their addresses. Also kubezonnet's own rule,
 * applied to the raw flows through an IP index as its server does, as the
 * reference for pod_cross_zone_network_traffic_bytes_total.
 */
import type { FlowEndpoint, FlowRecord, TrafficClass } from '../../pipeline/flow.ts';

/** A pod endpoint as processors/k8sattributes describes it. */
export function pod(namespace: string, name: string, workload: string, node: string, zone: string, region = 'region-1', address = '10.0.0.1', port = 0): FlowEndpoint {
  return { address, port, namespace, pod: name, workloadKind: 'Deployment', workloadName: workload, node, zone, region };
}

/** A record between two endpoints, with a traffic class and a cost when given. */
export function flow(src: FlowEndpoint, dst: FlowEndpoint, bytes: number, packets: number, trafficClass?: TrafficClass, costUsd?: number): FlowRecord {
  const r: FlowRecord = { src, dst, transport: 'tcp', ipFamily: 'ipv4', bytes, packets };
  if (trafficClass) r.trafficClass = trafficClass;
  if (costUsd !== undefined) r.costUsd = costUsd;
  return r;
}

export interface Node { name: string; zone: string; region: string; address: string }
export interface Pod { namespace: string; name: string; workload: string; node: string; address: string; hostNetwork: boolean }
/** A flow as the kernel sees it: addresses, ports and counts only. */
export interface RawFlow { src: string; dst: string; srcPort: number; dstPort: number; bytes: number; packets: number }

/** processors/cost's gcp table, written out: USD per GiB (2^30 bytes), internet at its first paid band. */
export const GCP_PRICE_PER_GIB: Record<TrafficClass, number> = { same_zone: 0, same_region: 0, cross_zone: 0.01, cross_region: 0.02, internet: 0.12, unknown: 0 };

export class ClusterModel {
  readonly nodes: Node[] = [];
  readonly pods: Pod[] = [];
  readonly #byAddress = new Map<string, Pod | Node>();

  addNode(node: Node): Node {
    this.nodes.push(node);
    this.#byAddress.set(node.address, node);
    return node;
  }

  addPod(pod: Pod): Pod {
    this.pods.push(pod);
    if (!pod.hostNetwork) this.#byAddress.set(pod.address, pod);
    return pod;
  }

  node(name: string): Node {
    return this.nodes.find((n) => n.name === name)!;
  }

  endpoint(address: string, port: number): FlowEndpoint {
    const found = this.#byAddress.get(address);
    if (!found) return { address, port };
    if (!('namespace' in found)) return { address, port, node: found.name, zone: found.zone, region: found.region, hostNetwork: true, workloadKind: 'Node', workloadName: found.name };
    const node = this.node(found.node);
    return { address, port, namespace: found.namespace, pod: found.name, workloadKind: 'Deployment', workloadName: found.workload, node: node.name, zone: node.zone, region: node.region };
  }

  /** What k8sattributes, crosszone and cost (provider gcp) make of a raw flow. */
  resolve(flow: RawFlow): FlowRecord {
    const src = this.endpoint(flow.src, flow.srcPort);
    const dst = this.endpoint(flow.dst, flow.dstPort);
    const trafficClass: TrafficClass =
      dst.zone === undefined ? 'internet' : src.zone === dst.zone ? 'same_zone' : src.region === dst.region ? 'cross_zone' : 'cross_region';
    return { src, dst, transport: 'tcp', ipFamily: 'ipv4', bytes: flow.bytes, packets: flow.packets, trafficClass, costUsd: (flow.bytes / 2 ** 30) * GCP_PRICE_PER_GIB[trafficClass] };
  }

  /**
   * kubezonnet's server rule (cmd/server/main.go handlePayload): both IPs must
   * be in its pod-IP index and the zones of the pods' nodes must differ; the
   * bytes go to the source pod. Host-network addresses are the node's IP; as in
   * kubezonnet they count as `_node_/<node>`.
   */
  kubezonnetTotals(flows: readonly RawFlow[]): Map<string, number> {
    const index = new Map<string, { key: string; zone: string }>();
    for (const node of this.nodes) index.set(node.address, { key: `_node_/${node.name}`, zone: node.zone });
    for (const pod of this.pods) if (!pod.hostNetwork) index.set(pod.address, { key: `${pod.namespace}/${pod.name}`, zone: this.node(pod.node).zone });
    const totals = new Map<string, number>();
    for (const f of flows) {
      const src = index.get(f.src);
      const dst = index.get(f.dst);
      if (!src || !dst || src.zone === dst.zone) continue;
      totals.set(src.key, (totals.get(src.key) ?? 0) + f.bytes);
    }
    return totals;
  }
}

/**
 * Three zones in one region and one in another, 25 workloads in three
 * namespaces with two pods each in region-1 and one remote workload in
 * region-2. Every pod talks to a pod in another zone, to one in its own zone,
 * some to the remote region and to the internet; one host-network agent per
 * node talks too. Bytes differ per workload and per pod so rankings have no ties.
 */
export function fourZoneModel(): { cluster: ClusterModel; pairs: Array<{ src: string; dst: string; weight: number }> } {
  const cluster = new ClusterModel();
  const zones = [
    ['zone-a', 'region-1'],
    ['zone-b', 'region-1'],
    ['zone-c', 'region-1'],
    ['zone-d', 'region-2'],
  ] as const;
  zones.forEach(([zone, region], i) => cluster.addNode({ name: `node-${zone.slice(-1)}`, zone, region, address: `192.168.0.${i + 1}` }));
  const namespaces = ['shop', 'data', 'ops'];
  for (let w = 0; w < 25; w++) {
    for (let p = 0; p < 2; p++) {
      const node = cluster.nodes[(w + p) % 3]!;
      cluster.addPod({ namespace: namespaces[w % 3]!, name: `wl${w}-${p}`, workload: `wl${w}`, node: node.name, address: `10.${(w + p) % 3}.${w}.${p + 1}`, hostNetwork: false });
    }
  }
  const remote = [0, 1].map((p) => cluster.addPod({ namespace: 'data', name: `remote-${p}`, workload: 'remote', node: 'node-d', address: `10.3.0.${p + 1}`, hostNetwork: false }));
  for (const node of cluster.nodes) cluster.addPod({ namespace: 'kube-system', name: `agent-${node.name}`, workload: 'agent', node: node.name, address: node.address, hostNetwork: true });

  const app = cluster.pods.filter((p) => !p.hostNetwork && p.workload !== 'remote');
  const zoneOf = (pod: Pod) => cluster.node(pod.node).zone;
  const pairs: Array<{ src: string; dst: string; weight: number }> = [];
  app.forEach((pod, i) => {
    const other = app[(i + 7) % app.length]!;
    const cross = zoneOf(other) !== zoneOf(pod) ? other : app.find((q) => zoneOf(q) !== zoneOf(pod))!;
    const same = app.find((q) => q !== pod && zoneOf(q) === zoneOf(pod))!;
    pairs.push({ src: pod.address, dst: cross.address, weight: 1000 + 97 * i });
    pairs.push({ src: pod.address, dst: same.address, weight: 400 + 13 * i });
    if (i % 3 === 0) pairs.push({ src: pod.address, dst: remote[i % 2]!.address, weight: 200 + 11 * i });
    if (i % 4 === 0) pairs.push({ src: pod.address, dst: `34.120.0.${i}`, weight: 50 + i });
  });
  remote.forEach((pod, i) => pairs.push({ src: pod.address, dst: app[i]!.address, weight: 700 + i }));
  cluster.nodes.forEach((node, i) => pairs.push({ src: node.address, dst: app[i + 3]!.address, weight: 300 + i }));
  return { cluster, pairs };
}
