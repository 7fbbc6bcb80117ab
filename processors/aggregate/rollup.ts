/**
 * Rolling flow records up to pods, workloads or namespaces (README.md has the
 * table of what each level keeps). Records that end up with the same ends,
 * transport, IP family and traffic class are summed into one.
 */
import type { FlowEndpoint, FlowRecord, TrafficClass } from '../../pipeline/flow.ts';

export type AggregationLevel = 'pod' | 'workload' | 'namespace';

/** Separates fields in group keys; cannot occur in names, labels or addresses. */
const SEP = '\u0001';

/** True when k8sattributes named the endpoint (pod, workload, namespace or node). */
function isNamed(ep: FlowEndpoint): boolean {
  return !!(ep.namespace || ep.pod || ep.workloadName || ep.node);
}

/**
 * The endpoint as kept at `level`, port always 0. `keepNode` is for the
 * workload level: true on the source side only (see README.md).
 */
export function rollUpEndpoint(ep: FlowEndpoint, level: AggregationLevel, keepNode: boolean): FlowEndpoint {
  const out: FlowEndpoint = { address: '', port: 0 };
  if (!isNamed(ep)) {
    // Nobody behind it: the address is its only name at pod level; above that,
    // unnamed ends are grouped by zone/region (and, in the record, class).
    if (level === 'pod') out.address = ep.address;
  } else if (!ep.namespace && !ep.workloadName) {
    // A node's own address (or a hostNetwork end known only by its node): the node is its workload.
    out.node = ep.node;
  } else {
    if (ep.namespace) out.namespace = ep.namespace;
    if (level !== 'namespace') {
      if (level === 'pod' && ep.pod) out.pod = ep.pod;
      if (ep.workloadKind) out.workloadKind = ep.workloadKind;
      if (ep.workloadName) out.workloadName = ep.workloadName;
      if (ep.node && (level === 'pod' || keepNode)) out.node = ep.node;
      if (ep.hostNetwork) out.hostNetwork = true;
    }
  }
  if (ep.zone) out.zone = ep.zone;
  if (ep.region) out.region = ep.region;
  return out;
}

/** Group key of a rolled-up endpoint: every field it can hold. */
function endpointKey(ep: FlowEndpoint): string {
  return [ep.address, ep.namespace, ep.pod, ep.workloadKind, ep.workloadName, ep.node, ep.zone, ep.region, ep.hostNetwork ? '1' : ''].join(SEP);
}

/** Same attributes apart from the address and the port (which roll-up drops or keeps by address). */
function sameAttributes(a: FlowEndpoint, b: FlowEndpoint): boolean {
  return (
    a.namespace === b.namespace && a.pod === b.pod && a.workloadName === b.workloadName && a.workloadKind === b.workloadKind &&
    a.node === b.node && a.zone === b.zone && a.region === b.region && a.hostNetwork === b.hostNetwork
  );
}

/**
 * Numbers the distinct rolled-up endpoints of one batch, for one side. Most
 * records repeat addresses, so the last endpoint seen at each address is
 * remembered and reused when its attributes are the same: one Map lookup and a
 * few string comparisons per record instead of building and hashing a key.
 */
class EndpointIds {
  /** Rolled-up endpoints by id. */
  readonly endpoints: FlowEndpoint[] = [];
  readonly #level: AggregationLevel;
  readonly #keepNode: boolean;
  readonly #byKey = new Map<string, number>();
  readonly #byAddress = new Map<string, { seen: FlowEndpoint; id: number }>();

  constructor(level: AggregationLevel, keepNode: boolean) {
    this.#level = level;
    this.#keepNode = keepNode;
  }

  id(ep: FlowEndpoint): number {
    const cached = this.#byAddress.get(ep.address);
    if (cached && sameAttributes(cached.seen, ep)) return cached.id;
    const rolled = rollUpEndpoint(ep, this.#level, this.#keepNode);
    const key = endpointKey(rolled);
    let id = this.#byKey.get(key);
    if (id === undefined) {
      id = this.endpoints.push(rolled) - 1;
      this.#byKey.set(key, id);
    }
    this.#byAddress.set(ep.address, { seen: ep, id });
    return id;
  }
}

/** Index of a record's transport, IP family and class among those seen in the batch. */
class RestIds {
  readonly #byTransport = new Map<string, number[]>();
  #count = 0;

  id(r: FlowRecord): number {
    let ids = this.#byTransport.get(r.transport);
    if (!ids) this.#byTransport.set(r.transport, (ids = []));
    const slot = (r.ipFamily === 'ipv6' ? 8 : 0) + CLASS_SLOT[r.trafficClass ?? 'none'];
    return (ids[slot] ??= this.#count++);
  }
}

const CLASS_SLOT: Readonly<Record<TrafficClass | 'none', number>> = { none: 0, same_zone: 1, cross_zone: 2, cross_region: 3, internet: 4, unknown: 5 };

/** Records of one (src, dst) pair, one per rest id; usually just one. */
interface Group {
  rest: number;
  record: FlowRecord;
  next: Group | undefined;
}

/** Endpoint ids stay below this, so a (src, dst) pair fits in one exact number. */
const MAX_ENDPOINTS = 2 ** 26;

/**
 * Sums `records` into one record per group, in order of first appearance.
 * Returns new records; the input is left as it was.
 */
export function rollUp(records: readonly FlowRecord[], level: AggregationLevel): FlowRecord[] {
  if (records.length >= MAX_ENDPOINTS) throw new RangeError(`cannot aggregate ${records.length} records in one batch (limit ${MAX_ENDPOINTS - 1})`);
  const srcIds = new EndpointIds(level, true);
  const dstIds = new EndpointIds(level, false);
  const restIds = new RestIds();
  const pairs = new Map<number, Group>();
  const out: FlowRecord[] = [];
  for (let i = 0; i < records.length; i++) {
    const r = records[i]!;
    const srcId = srcIds.id(r.src);
    const dstId = dstIds.id(r.dst);
    const rest = restIds.id(r);
    const pair = srcId * MAX_ENDPOINTS + dstId;
    let group = pairs.get(pair);
    while (group && group.rest !== rest) group = group.next;
    if (group) {
      const sum = group.record;
      sum.bytes += r.bytes;
      sum.packets += r.packets;
      if (r.costUsd !== undefined) sum.costUsd = (sum.costUsd ?? 0) + r.costUsd;
      continue;
    }
    const sum: FlowRecord = {
      src: { ...srcIds.endpoints[srcId]! },
      dst: { ...dstIds.endpoints[dstId]! },
      transport: r.transport,
      ipFamily: r.ipFamily,
      bytes: r.bytes,
      packets: r.packets,
    };
    if (r.trafficClass !== undefined) sum.trafficClass = r.trafficClass;
    if (r.costUsd !== undefined) sum.costUsd = r.costUsd;
    out.push(sum);
    pairs.set(pair, { rest, record: sum, next: pairs.get(pair) });
  }
  return out;
}
