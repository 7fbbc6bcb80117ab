/**
 * The data model carried by every pipeline: batches of flow records.
 * See pipeline/README.md "Data model". Attribute names on the wire (OTLP, flow logs,
 * Prometheus labels) are mapped from these fields in pipeline/attributes.ts.
 */

/**
 * Transport of the record that carries overflow (receivers/netfilter): traffic
 * whose flow found the kernel table full. Its addresses are '' (unknown) and
 * ports 0; it was counted by this node's hook, whatever its ends were.
 */
export const OVERFLOW_TRANSPORT = 'overflow';

/** Traffic class of a flow, set by processors/crosszone. */
export type TrafficClass = 'same_zone' | 'same_region' | 'cross_zone' | 'cross_region' | 'internet' | 'unknown';

/**
 * `same_region`: both ends in one region, the zone of one unknown (a cloud
 * service named by its provider's range file, like S3 in the cluster's region).
 */
export const TRAFFIC_CLASSES: readonly TrafficClass[] = ['same_zone', 'same_region', 'cross_zone', 'cross_region', 'internet', 'unknown'];

export type IpFamily = 'ipv4' | 'ipv6';

/** L4 protocol name as in OTel eBPF instrumentation (`tcp`, `udp`, `icmp`, `icmpv6`, or the number as text). */
export type Transport = string;

/** Kind of the workload that owns a pod, after following owner references. */
export type WorkloadKind = 'Deployment' | 'StatefulSet' | 'DaemonSet' | 'CronJob' | 'Job' | 'ReplicaSet' | 'Pod' | 'Node' | 'External' | string;

/**
 * One end of a flow. `address` and `port` come from the receiver; every other
 * field is added by processors (k8sattributes) and is absent when unknown.
 */
export interface FlowEndpoint {
  address: string;
  /** 0 when the protocol has no ports (ICMP) or after aggregation dropped it. */
  port: number;
  namespace?: string;
  pod?: string;
  workloadKind?: WorkloadKind;
  workloadName?: string;
  node?: string;
  zone?: string;
  region?: string;
  hostNetwork?: boolean;
  /**
   * The Service this end's pod backs (k8sattributes sets it on the
   * destination: the Service the flow went to), and its namespace. A pod
   * backing several Services gets one, by the rule in
   * processors/k8sattributes/README.md.
   */
  service?: string;
  serviceNamespace?: string;
  /**
   * True when that Service already routes by zone: its
   * spec.trafficDistribution is set (PreferClose, PreferSameZone,
   * PreferSameNode), or its `service.kubernetes.io/topology-mode` annotation
   * (topology-aware routing), or its EndpointSlices carry zone hints. Advice
   * does not tell a user to set what is set.
   */
  serviceTopologyAware?: boolean;
  /**
   * What an end named by an external block is (k8sattributes `external`
   * kind: managed_service, peered_vpc, on_prem, cloud_provider for a
   * provider's range file, other).
   */
  externalKind?: string;
  /**
   * Chosen labels of the end's pod and of its namespace (k8sattributes
   * `pod_labels`, `namespace_labels`), label key -> value, values past the
   * cardinality limit read `other`. Shared between ends: MUST NOT be changed.
   */
  podLabels?: Readonly<Record<string, string>>;
  namespaceLabels?: Readonly<Record<string, string>>;
  /**
   * Set by the cgroup receiver on the source: the UID of the pod whose cgroup
   * the sending socket belongs to, known from the kernel rather than from the
   * address (hostNetwork pods share their node's). k8sattributes resolves the
   * end by it before the address. Not put on the wire.
   */
  podUid?: string;
  /**
   * Set by k8sattributes on a resolved end: a small non-negative integer
   * naming the pod, node or external block the address resolved to, the same
   * for every end resolved to that entry in this process. Only a hint for
   * later stages (processors/aggregate) to recognise an end without a string
   * lookup: two ends with one identity may still differ in other fields (a
   * relabelled node), so compare those too. Never exported or put on the wire.
   */
  identity?: number;
}

/** Bytes and packets of one flow over one batch interval (a delta, never a running total). */
export interface FlowRecord {
  src: FlowEndpoint;
  dst: FlowEndpoint;
  transport: Transport;
  ipFamily: IpFamily;
  /** IP packet lengths summed, headers included, as sent on the wire. */
  bytes: number;
  packets: number;
  trafficClass?: TrafficClass;
  /** Set by processors/cost, in US dollars. */
  costUsd?: number;
  /**
   * True when an end is in a namespace annotated `zonetap.io/ignore: "true"`
   * (k8sattributes): that end keeps only its namespace, its namespace
   * labels and its locality, so the flows sum into one series per
   * namespace pair; never dropped.
   */
  ignored?: boolean;
}

/** The unit that flows through a pipeline: records counted between `start` and `end` (ms since epoch). */
export interface FlowBatch {
  start: number;
  end: number;
  records: FlowRecord[];
}

/** Deep copy, for fan-out to a consumer that changes the batch. */
export function cloneBatch(batch: FlowBatch): FlowBatch {
  return {
    start: batch.start,
    end: batch.end,
    records: batch.records.map((r) => ({ ...r, src: { ...r.src }, dst: { ...r.dst } })),
  };
}
