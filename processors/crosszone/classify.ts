import type { FlowEndpoint, FlowRecord, TrafficClass } from '../../pipeline/flow.ts';
import { isPublicAddress } from '../../net/index.ts';

/** True when k8sattributes resolved the endpoint to anything: pod, workload, node or an external block. */
export function isResolved(ep: FlowEndpoint): boolean {
  return !!(ep.zone || ep.region || ep.namespace || ep.pod || ep.workloadName || ep.node);
}

/**
 * The traffic class of a flow, from the zones and regions of its two ends:
 * - `cross_region`: both regions known and different;
 * - `same_zone` / `cross_zone`: both zones known, equal / different (regions
 *   equal or not both known);
 * - `same_region`: regions known and equal, a zone unknown (a provider's
 *   service in the cluster's region, from a range file: not internet);
 * - `internet`: the destination resolved to nothing and its address is public;
 * - `unknown`: anything else (an end without a zone, a private address nobody claims).
 */
export function classifyFlow(record: FlowRecord): TrafficClass {
  const src = record.src;
  const dst = record.dst;
  if (src.region && dst.region && src.region !== dst.region) return 'cross_region';
  if (src.zone && dst.zone) return src.zone === dst.zone ? 'same_zone' : 'cross_zone';
  if (src.region && dst.region) return 'same_region';
  if (!isResolved(dst) && isPublicAddress(dst.address)) return 'internet';
  return 'unknown';
}
