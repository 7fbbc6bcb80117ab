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

/**
 * Flow records held as columns: what the kernel receivers hand on, so that
 * k8sattributes, crosszone and aggregate process a drain without making a
 * JavaScript object per flow (pipeline/README.md, "Columns"). Row `i` is the
 * record `{ src: ends[src[i]] with port srcPort[i], dst: ends[dst[i]] with
 * port dstPort[i], transport: transports[transport[i]], ipFamily: family[i]
 * ? 'ipv6' : 'ipv4', bytes: bytes[i], packets: packets[i], trafficClass,
 * ignored }`. The arrays may be longer than `length` (capacity); rows past
 * `length` mean nothing.
 */
export interface FlowColumns {
  /** Rows in use. */
  length: number;
  /**
   * The batch's distinct ends, by number, each with port 0 (the port is a
   * row's): read-only FlowEndpoint objects, shared by every row that names
   * them, as source or destination. A processor that names an end puts a new
   * object in its slot, or appends one and renumbers the rows that take it;
   * it never changes an end in place.
   */
  ends: FlowEndpoint[];
  src: Uint32Array;
  srcPort: Uint16Array;
  dst: Uint32Array;
  dstPort: Uint16Array;
  /** Index into `transports`. */
  transport: Uint8Array;
  /** The batch's transports (`tcp`, `udp`, ..., OVERFLOW_TRANSPORT), at most 256. */
  transports: Transport[];
  /** 0: ipv4, 1: ipv6. */
  family: Uint8Array;
  bytes: Float64Array;
  packets: Float64Array;
  /** 0: not classified; k + 1: TRAFFIC_CLASSES[k]. */
  trafficClass: Uint8Array;
  /** 1 where FlowRecord.ignored is true. */
  ignored: Uint8Array;
}

/**
 * The unit that flows through a pipeline: records counted between `start`
 * and `end` (ms since epoch). A batch may carry its records as `columns`
 * (pipeline/columns.ts, ColumnBatch): then reading `records` turns them into
 * objects once, and `columns` is undefined from then on. A component that
 * understands columns reads `columns` first; every other one just reads
 * `records`. Count a batch's records with flowCount(), which never turns
 * columns into objects.
 */
export interface FlowBatch {
  start: number;
  end: number;
  records: FlowRecord[];
  readonly columns?: FlowColumns;
}

/** How many records `batch` holds, in either form. */
export function flowCount(batch: FlowBatch): number {
  const columns = batch.columns;
  return columns !== undefined ? columns.length : batch.records.length;
}
