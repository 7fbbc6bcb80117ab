/**
 * Naming one flow: the complete endpoint objects k8sattributes writes, and
 * the locality rule of agents (node_name) for a source that is known, and
 * for one that is still unknown after resolve_wait, placed by pod CIDR.
 */
import { OVERFLOW_TRANSPORT, type FlowEndpoint, type FlowRecord } from '../../pipeline/flow.ts';
import { NODE, POD, type AddressDirectory, type NodeEntry, type PodEntry, type Resolved } from './directory.ts';
import { SERVICE, type ServiceEntry } from './services.ts';
import { SharedEnds } from './shared-ends.ts';

/** What one pass over records (a batch, or flows leaving the hold) counted; added to the stats and metrics after it. */
export interface Tally {
  unresolvedSrcBytes: number;
  unresolvedDstBytes: number;
  forwardedFlows: number;
  forwardedBytes: number;
  unknownSourceFlows: number;
  unknownSourceBytes: number;
  withinPodFlows: number;
  withinPodBytes: number;
  heldRecords: number;
  notHeldRecords: number;
  lateResolvedRecords: number;
  unresolvedAfterWaitRecords: number;
  /** Records with an end in a namespace annotated zonetap.io/ignore, and their bytes. */
  ignoredRecords: number;
  ignoredBytes: number;
}

export function newTally(): Tally {
  return {
    unresolvedSrcBytes: 0,
    unresolvedDstBytes: 0,
    forwardedFlows: 0,
    forwardedBytes: 0,
    unknownSourceFlows: 0,
    unknownSourceBytes: 0,
    withinPodFlows: 0,
    withinPodBytes: 0,
    heldRecords: 0,
    notHeldRecords: 0,
    lateResolvedRecords: 0,
    unresolvedAfterWaitRecords: 0,
    ignoredRecords: 0,
    ignoredBytes: 0,
  };
}

/**
 * What the records of one pass are resolved against: the directory in use
 * (it changes on a static reload), external blocks, and what this agent
 * knows about locality.
 */
export interface Pass {
  directory: AddressDirectory;
  /** The pod, node or external block `address` belongs to now. */
  resolve(address: string): Resolved | undefined;
  /**
   * What a flow's source resolves to: its pod by UID (cgroup receiver), else
   * resolve(address); a sidecar's own pod whatever the address. For an end
   * without a UID, except on a sidecar, it MUST be resolve(address):
   * columnar.ts looks that up once for both sides of an end.
   */
  source(src: FlowEndpoint): Resolved | undefined;
  /** node_name: this node, when it is known. */
  self: NodeEntry | undefined;
  /**
   * True when every pod of the cluster is known here (static inventory, or
   * `resolve: all` while synced): an address no pod claims is then no pod's.
   */
  knowsEveryPod: boolean;
  /** Destination ends built in this pass, handed out again to records with the same destination. */
  ends: SharedEnds;
}

/**
 * The end `ep` named after `r`: a new object with every endpoint field, in one
 * order, whatever `r` is. One allocation instead of growing the receiver's
 * two-field object eight times, and one hidden class for every resolved end,
 * which keeps the processors downstream monomorphic (2x faster measured).
 * Fields this source does not know keep what an upstream hop (an agent) set.
 * `service` is the Service a destination pod was reached in (undefined for
 * sources).
 */
export function namedEnd(ep: FlowEndpoint, r: Resolved, service?: ServiceEntry): FlowEndpoint {
  if (r.kind === POD) {
    const w = r.workload;
    const node = r.node;
    if (r.ns.ignored) return ignoredEnd(ep, r);
    return {
      address: ep.address,
      port: ep.port,
      namespace: r.namespace,
      pod: r.name,
      workloadKind: w !== undefined ? w.kind : 'Pod',
      workloadName: w !== undefined ? w.name : r.name,
      node: node !== undefined ? node.name : ep.node,
      zone: (node !== undefined ? node.zone : undefined) ?? ep.zone,
      region: (node !== undefined ? node.region : undefined) ?? ep.region,
      // Only an end named by its pod UID (cgroup receiver) resolves to a hostNetwork pod: their addresses are the node's.
      hostNetwork: r.hostNetwork,
      service: service !== undefined ? service.name : undefined,
      serviceNamespace: service !== undefined ? service.namespace : undefined,
      serviceTopologyAware: service !== undefined ? service.topologyAware : undefined,
      externalKind: undefined,
      podLabels: r.labels,
      namespaceLabels: r.ns.labels,
      identity: r.identity,
    };
  }
  if (r.kind === SERVICE) {
    // A Service's ClusterIP (before DNAT): which pod, hence which zone, it reaches is not known here.
    return {
      address: ep.address,
      port: ep.port,
      namespace: r.namespace,
      pod: undefined,
      workloadKind: undefined,
      workloadName: undefined,
      node: undefined,
      zone: ep.zone,
      region: ep.region,
      hostNetwork: undefined,
      service: r.name,
      serviceNamespace: r.namespace,
      serviceTopologyAware: r.topologyAware,
      externalKind: undefined,
      podLabels: undefined,
      namespaceLabels: undefined,
      identity: r.identity,
    };
  }
  if (r.kind === NODE) {
    return {
      address: ep.address,
      port: ep.port,
      namespace: undefined,
      pod: undefined,
      workloadKind: 'Node',
      workloadName: r.name,
      node: r.name,
      zone: r.zone ?? ep.zone,
      region: r.region ?? ep.region,
      hostNetwork: true,
      service: undefined,
      serviceNamespace: undefined,
      serviceTopologyAware: undefined,
      externalKind: undefined,
      podLabels: undefined,
      namespaceLabels: undefined,
      identity: r.identity,
    };
  }
  return {
    address: ep.address,
    port: ep.port,
    namespace: undefined,
    pod: undefined,
    workloadKind: 'External',
    workloadName: r.name,
    node: undefined,
    zone: r.zone ?? ep.zone,
    region: r.region ?? ep.region,
    hostNetwork: undefined,
    service: undefined,
    serviceNamespace: undefined,
    serviceTopologyAware: undefined,
    externalKind: r.externalKind,
    podLabels: undefined,
    namespaceLabels: undefined,
    identity: r.identity,
  };
}

/**
 * An end in a namespace annotated `zonetap.io/ignore: "true"`: its namespace,
 * the namespace's labels and its locality (zone and region, which class and
 * price it), nothing that names a pod, workload, node, Service or address, so
 * that its flows sum into one series per namespace and zone.
 */
function ignoredEnd(ep: FlowEndpoint, r: PodEntry): FlowEndpoint {
  const node = r.node;
  return {
    address: '',
    port: 0,
    namespace: r.namespace,
    pod: undefined,
    workloadKind: undefined,
    workloadName: undefined,
    node: undefined,
    zone: (node !== undefined ? node.zone : undefined) ?? ep.zone,
    region: (node !== undefined ? node.region : undefined) ?? ep.region,
    hostNetwork: undefined,
    service: undefined,
    serviceNamespace: undefined,
    serviceTopologyAware: undefined,
    externalKind: undefined,
    podLabels: undefined,
    namespaceLabels: r.ns.labels,
    identity: r.ns.identity,
  };
}

/**
 * An end no pod claims, placed by the pod CIDR of `node`: its address with
 * the node's zone and region, and nothing else. Not the node itself: that
 * would read as the node's own (hostNetwork) traffic, which it is not.
 */
export function placedEnd(ep: FlowEndpoint, node: NodeEntry): FlowEndpoint {
  return {
    address: ep.address,
    port: ep.port,
    namespace: undefined,
    pod: undefined,
    workloadKind: undefined,
    workloadName: undefined,
    node: undefined,
    zone: node.zone,
    region: node.region,
    hostNetwork: undefined,
    service: undefined,
    serviceNamespace: undefined,
    serviceTopologyAware: undefined,
    externalKind: undefined,
    podLabels: undefined,
    namespaceLabels: undefined,
    identity: undefined,
  };
}

/** The destination end of `r` named after `d`: the one built for an earlier record of the pass when it is the same. */
function destinationEnd(pass: Pass, r: FlowRecord, d: Resolved): FlowEndpoint {
  const ep = r.dst;
  const service = d.kind === POD ? pass.directory.services.serviceAt(ep.address, ep.port, r.transport) : undefined;
  if (!SharedEnds.shareable(ep, d)) return namedEnd(ep, d, service);
  let end = pass.ends.get(ep, d, service);
  if (end === undefined) {
    end = namedEnd(ep, d, service);
    pass.ends.put(end);
  }
  return end;
}

/** True when an upstream hop (an agent) already said something about this end: this process then does not hold or place it. */
export function hasUpstreamNames(ep: FlowEndpoint): boolean {
  return !!(ep.namespace || ep.pod || ep.workloadName || ep.node || ep.zone || ep.region);
}

/** Why an agent does not keep a flow: its source is another node's (`forwarded`), or may be a pod this agent does not know of. */
export const FORWARDED = 0;
export const UNKNOWN_SOURCE = 1;
export type NotKept = typeof FORWARDED | typeof UNKNOWN_SOURCE;

/** Counts a flow of `bytes` that an agent does not keep, and why. */
export function countNotKept(tally: Tally, why: NotKept, bytes: number): void {
  if (why === FORWARDED) {
    tally.forwardedFlows++;
    tally.forwardedBytes += bytes;
  } else {
    tally.unknownSourceFlows++;
    tally.unknownSourceBytes += bytes;
  }
}

/** True when `r` is a pod of a namespace annotated zonetap.io/ignore. */
export function inIgnoredNamespace(r: Resolved | undefined): boolean {
  return r !== undefined && r.kind === POD && r.ns.ignored;
}

/**
 * The source end `ep` of a flow named, given what it resolved to now (`s`),
 * or why an agent (nodeName set) does not keep the flow. An unknown source
 * (`s` undefined) is final here: it already waited, or could not.
 * `overflow`: the flow is overflow (receivers/netfilter: traffic that found
 * the kernel table full, addresses ''), counted by this node's hook by
 * construction, so it passes the locality rule.
 *
 * Agents keep a flow whose source is on this node: a pod or address of this
 * node, or, for an unknown source, an address in this node's pod CIDR. An
 * unknown source in another node's pod CIDR is that node's to count. One in
 * no pod CIDR is kept with its address alone when it cannot be a pod this
 * agent does not know of (this node has pod CIDRs, so pods are in them; or
 * every pod is known), and not kept (unknown_source) otherwise: it may be a
 * pod of another node, whose agent counts it.
 */
export function sourceEnd(pass: Pass, nodeName: string | undefined, ep: FlowEndpoint, s: Resolved | undefined, overflow: boolean): FlowEndpoint | NotKept {
  if (s !== undefined) {
    if (nodeName !== undefined && !overflow) {
      const local = s.kind === POD ? s.node !== undefined && s.node.name === nodeName : s.kind === NODE && s.name === nodeName;
      if (!local) return FORWARDED;
    }
    // An upstream agent named this end a hostNetwork pod of node N (by its UID); here its
    // address only says "node N": keep the agent's name.
    const keepSource = s.kind === NODE && ep.hostNetwork === true && ep.pod !== undefined && ep.node === s.name;
    return keepSource ? ep : namedEnd(ep, s);
  }
  const placedOn = overflow || hasUpstreamNames(ep) ? undefined : pass.directory.podNetworkOf(ep.address);
  if (nodeName !== undefined && !overflow) {
    if (placedOn !== undefined && placedOn.name !== nodeName) return FORWARDED;
    const selfHasPodCidrs = pass.self !== undefined && pass.self.podCidrs.length > 0;
    if (placedOn === undefined && !selfHasPodCidrs && !pass.knowsEveryPod) return UNKNOWN_SOURCE;
  }
  return placedOn !== undefined ? placedEnd(ep, placedOn) : ep;
}

/**
 * The record `r` named, given what its source resolved to now (`s`, see
 * sourceEnd), or undefined when an agent does not keep it (counted in `tally`).
 */
export function attribute(pass: Pass, nodeName: string | undefined, r: FlowRecord, s: Resolved | undefined, tally: Tally): FlowRecord | undefined {
  const src = sourceEnd(pass, nodeName, r.src, s, r.transport === OVERFLOW_TRANSPORT);
  if (typeof src === 'number') {
    countNotKept(tally, src, r.bytes);
    return undefined;
  }
  if (s === undefined) tally.unresolvedSrcBytes += r.bytes;
  const d = pass.resolve(r.dst.address);
  if (d === undefined) tally.unresolvedDstBytes += r.bytes;
  const dst = d === undefined ? r.dst : destinationEnd(pass, r, d);
  const ignored = inIgnoredNamespace(s) || inIgnoredNamespace(d);
  if (ignored) {
    tally.ignoredRecords++;
    tally.ignoredBytes += r.bytes;
  }
  // A new record with every field (trafficClass and costUsd too, maybe
  // undefined): one hidden class for the processors downstream, which then
  // set those fields without a shape change, and each record next to its
  // ends in memory.
  return {
    src,
    dst,
    transport: r.transport,
    ipFamily: r.ipFamily,
    bytes: r.bytes,
    packets: r.packets,
    trafficClass: r.trafficClass,
    costUsd: r.costUsd,
    ignored: ignored || r.ignored === true,
  };
}
