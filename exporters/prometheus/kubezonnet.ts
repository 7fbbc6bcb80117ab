/**
 * kubezonnet's `pod_cross_zone_network_traffic_bytes_total{namespace,pod}`,
 * with the meaning its server gives it (polarsignals/kubezonnet,
 * cmd/server/main.go): bytes of flows whose source is a pod and whose
 * destination is a pod, where the zones of the two pods' nodes differ,
 * counted on the source pod. Cross-region flows count (their zones differ);
 * flows to or from the internet, or to an address that is no pod, do not.
 *
 * kubezonnet resolves node addresses through hostNetwork pods (they share the
 * node's IP); zonetap names such a source deterministically as namespace
 * `_node_`, pod `<node name>`. A record whose pod name was aggregated away
 * cannot be attributed to a pod and is left out of this metric.
 */
import type { FlowEndpoint, FlowRecord } from '../../pipeline/flow.ts';

export const KUBEZONNET_METRIC = 'pod_cross_zone_network_traffic_bytes_total';
export const KUBEZONNET_HELP = 'The amount of cross-zone traffic the pod caused';
/** Namespace label of a source that is a node or a hostNetwork pod. */
export const NODE_NAMESPACE = '_node_';

/** The {namespace, pod} kubezonnet would charge `record` to, or undefined when it would not count it. */
export function kubezonnetSource(record: FlowRecord): { namespace: string; pod: string } | undefined {
  const { src, dst } = record;
  if (src.zone === undefined || dst.zone === undefined || src.zone === dst.zone) return undefined;
  if (!inCluster(dst)) return undefined;
  if (isNode(src)) return src.node ? { namespace: NODE_NAMESPACE, pod: src.node } : undefined;
  if (src.namespace === undefined || src.pod === undefined) return undefined;
  return { namespace: src.namespace, pod: src.pod };
}

function isNode(ep: FlowEndpoint): boolean {
  return ep.hostNetwork === true || ep.workloadKind === 'Node';
}

/** A pod (kubezonnet indexes pod IPs, hostNetwork pods included) or a node. */
function inCluster(ep: FlowEndpoint): boolean {
  return ep.pod !== undefined || ep.node !== undefined || isNode(ep);
}
