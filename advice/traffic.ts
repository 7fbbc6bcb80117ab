/**
 * What advice is computed from: measured traffic as label sets (the flow
 * metrics' Prometheus labels) with rates. Every input comes down to these:
 * a flow log's records (labels from the flow's attributes), a PromQL answer,
 * or the prometheus exporter's own series. One shape, so a rule cannot tell
 * where its evidence came from, only what it says.
 */
import { labelName, recordAttributes } from '../pipeline/attributes.ts';
import type { FlowRecord, TrafficClass } from '../pipeline/flow.ts';

/** One end of measured traffic, from the labels that are present. */
export interface TrafficEnd {
  namespace: string | undefined;
  /** Workload kind (k8s_*_owner_type): Deployment, StatefulSet, External, ... */
  kind: string | undefined;
  /** Workload name (k8s_*_owner_name). */
  workload: string | undefined;
  pod: string | undefined;
  zone: string | undefined;
  region: string | undefined;
  /** 0 when unknown (Prometheus without port_labels, or rolled up). */
  port: number;
}

/** Traffic of one label set, as rates over the window it was measured in. */
export interface ObservedTraffic {
  src: TrafficEnd;
  dst: TrafficEnd;
  /** k8s_dst_service_name: the Service the destination pod backs, when k8sattributes names it. */
  dstService: string | undefined;
  /** k8s_dst_service_topology_aware: that Service already routes by zone (trafficDistribution, topology-mode, hints). */
  dstServiceTopologyAware: boolean;
  trafficClass: TrafficClass | undefined;
  bytesPerSecond: number;
  usdPerSecond: number;
  /** Where it was read: a PromQL series selector, a flow log's pods and ports. */
  evidence: string;
}

/** Labels of the flow metrics, the service label included (it is optional: see README). */
export type TrafficLabels = Readonly<Record<string, string | undefined>>;

const SERVICE_LABEL = 'k8s_dst_service_name';
const TOPOLOGY_AWARE_LABEL = 'k8s_dst_service_topology_aware';

function endOf(labels: TrafficLabels, side: 'src' | 'dst'): TrafficEnd {
  const port = Number(labels[`${side}_port`] ?? 0);
  return {
    namespace: labels[`k8s_${side}_namespace`],
    kind: labels[`k8s_${side}_owner_type`],
    workload: labels[`k8s_${side}_owner_name`],
    pod: labels[`k8s_${side}_name`],
    zone: labels[`${side}_zone`],
    region: labels[`${side}_region`],
    port: Number.isInteger(port) ? port : 0,
  };
}

/** A label set with its rates as ObservedTraffic; `evidence` says where it was read. */
export function observedFromLabels(labels: TrafficLabels, bytesPerSecond: number, usdPerSecond: number, evidence: string): ObservedTraffic {
  return {
    src: endOf(labels, 'src'),
    dst: endOf(labels, 'dst'),
    dstService: labels[SERVICE_LABEL],
    dstServiceTopologyAware: labels[TOPOLOGY_AWARE_LABEL] === 'true',
    trafficClass: labels.zonetap_traffic_class as TrafficClass | undefined,
    bytesPerSecond,
    usdPerSecond,
    evidence,
  };
}

/** A PromQL-style selector of a label set: how a series is cited as evidence. */
export function selector(labels: TrafficLabels): string {
  const parts = Object.entries(labels)
    .filter(([, v]) => v !== undefined && v !== '')
    .map(([k, v]) => `${k}=${JSON.stringify(v)}`);
  return `{${parts.join(', ')}}`;
}

/**
 * Flow records (a flow log) measured over `seconds`: summed per pod pair,
 * class and server port (the lower of the two ports, the client's being
 * ephemeral), so that evidence names the pods and the port they talk on.
 */
export function observedFromRecords(records: Iterable<FlowRecord>, seconds: number): ObservedTraffic[] {
  const groups = new Map<string, { labels: Record<string, string>; bytes: number; usd: number }>();
  for (const r of records) {
    const labels: Record<string, string> = {};
    for (const [name, value] of Object.entries(recordAttributes(r))) labels[labelName(name)] = String(value);
    // Keep the port clients connect to; drop the ephemeral one, which would make a group per connection.
    const [low, high] = r.src.port <= r.dst.port ? ['src_port', 'dst_port'] : ['dst_port', 'src_port'];
    delete labels[high];
    if (labels[low] === undefined) delete labels[low];
    delete labels.src_address;
    delete labels.dst_address;
    const key = selector(labels);
    let g = groups.get(key);
    if (g === undefined) groups.set(key, (g = { labels, bytes: 0, usd: 0 }));
    g.bytes += r.bytes;
    g.usd += r.costUsd ?? 0;
  }
  const span = Math.max(seconds, 1);
  return [...groups.values()].map((g) => observedFromLabels(g.labels, g.bytes / span, g.usd / span, describeFlows(g.labels)));
}

/** `shop/api-5d8f7c-k9w4t (us-central1-b) -> shop/postgres-0:5432 (us-central1-a), cross_zone`. */
function describeFlows(labels: TrafficLabels): string {
  const end = (side: 'src' | 'dst') => {
    const e = endOf(labels, side);
    const who = e.namespace ? `${e.namespace}/${e.pod ?? e.workload}` : (e.workload ?? '?');
    return `${who}${e.port ? `:${e.port}` : ''} (${e.zone ?? e.region ?? 'zone unknown'})`;
  };
  return `flows ${end('src')} -> ${end('dst')}, ${labels.zonetap_traffic_class ?? 'unclassified'}`;
}
