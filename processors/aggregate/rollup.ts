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

/** The endpoint as kept at `level` (README.md has the table), port always 0. */
export function rollUpEndpoint(ep: FlowEndpoint, level: AggregationLevel): FlowEndpoint {
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
      if (level === 'pod' && ep.node) out.node = ep.node;
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

/** A distinct rolled-up endpoint, and its number in the batch being rolled up. */
interface CatalogEntry {
  endpoint: FlowEndpoint;
  /** Batch in which `id` was given; ids are renumbered per batch. */
  batch: number;
  id: number;
}

/** Most addresses remembered per side; past this the catalog starts over (at a batch boundary). */
const MAX_REMEMBERED_ADDRESSES = 100_000;

/**
 * Numbers the distinct rolled-up endpoints of each batch, for one side, and
 * remembers across batches which rolled-up endpoint each address gave, with
 * the attributes it had: a record whose end has the same address and
 * attributes as last time (the usual case: the same pods, batch after batch)
 * costs one Map lookup and a few string comparisons, with no key string built.
 */
class EndpointCatalog {
  /** Rolled-up endpoints of the current batch, by id. */
  endpoints: FlowEndpoint[] = [];
  readonly #level: AggregationLevel;
  readonly #byKey = new Map<string, CatalogEntry>();
  readonly #byAddress = new Map<string, { seen: FlowEndpoint; entry: CatalogEntry }>();
  /** Above pod level: the unnamed end without zone or region ("elsewhere"). */
  readonly #elsewhere: CatalogEntry = { endpoint: { address: '', port: 0 }, batch: -1, id: -1 };
  #batch = 0;

  constructor(level: AggregationLevel) {
    this.#level = level;
  }

  beginBatch(): void {
    this.#batch++;
    this.endpoints = [];
    if (this.#byAddress.size > MAX_REMEMBERED_ADDRESSES) {
      this.#byAddress.clear();
      this.#byKey.clear();
    }
  }

  id(ep: FlowEndpoint): number {
    const entry = this.#entry(ep);
    if (entry.batch !== this.#batch) {
      entry.batch = this.#batch;
      entry.id = this.endpoints.push(entry.endpoint) - 1;
    }
    return entry.id;
  }

  #entry(ep: FlowEndpoint): CatalogEntry {
    if (this.#level !== 'pod' && !ep.zone && !ep.region && !isNamed(ep)) return this.#elsewhere;
    const known = this.#byAddress.get(ep.address);
    if (known !== undefined && sameAttributes(known.seen, ep)) return known.entry;
    const rolled = rollUpEndpoint(ep, this.#level);
    const key = endpointKey(rolled);
    let entry = this.#byKey.get(key);
    if (entry === undefined) this.#byKey.set(key, (entry = { endpoint: rolled, batch: -1, id: -1 }));
    // A copy: the record's own endpoint may be changed or reused after this batch.
    const seen = { ...ep };
    if (known !== undefined) {
      known.seen = seen;
      known.entry = entry;
    } else {
      this.#byAddress.set(ep.address, { seen, entry });
    }
    return entry;
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

/**
 * Rolls batches up to one level. Keeps what it learnt about addresses from
 * one batch to the next (bounded), so use one instance per pipeline stage.
 */
export class RollUp {
  readonly #src: EndpointCatalog;
  readonly #dst: EndpointCatalog;

  constructor(level: AggregationLevel) {
    this.#src = new EndpointCatalog(level);
    this.#dst = new EndpointCatalog(level);
  }

  /**
   * Sums `records` into one record per group, in order of first appearance.
   * Returns new records (each with its own endpoint objects); the input is
   * left as it was.
   */
  records(records: readonly FlowRecord[]): FlowRecord[] {
    const src = this.#src;
    const dst = this.#dst;
    src.beginBatch();
    dst.beginBatch();
    const restIds = new RestIds();
    /** By source id, then destination id (small integers: cheap to hash, small maps). */
    const pairs: (Map<number, Group> | undefined)[] = [];
    const out: FlowRecord[] = [];
    for (let i = 0; i < records.length; i++) {
      const r = records[i]!;
      const srcId = src.id(r.src);
      const dstId = dst.id(r.dst);
      const rest = restIds.id(r);
      let byDst = pairs[srcId];
      if (byDst === undefined) pairs[srcId] = byDst = new Map();
      let group = byDst.get(dstId);
      while (group !== undefined && group.rest !== rest) group = group.next;
      if (group !== undefined) {
        const sum = group.record;
        sum.bytes += r.bytes;
        sum.packets += r.packets;
        if (r.costUsd !== undefined) sum.costUsd = (sum.costUsd ?? 0) + r.costUsd;
        continue;
      }
      const sum: FlowRecord = {
        src: { ...src.endpoints[srcId]! },
        dst: { ...dst.endpoints[dstId]! },
        transport: r.transport,
        ipFamily: r.ipFamily,
        bytes: r.bytes,
        packets: r.packets,
      };
      if (r.trafficClass !== undefined) sum.trafficClass = r.trafficClass;
      if (r.costUsd !== undefined) sum.costUsd = r.costUsd;
      out.push(sum);
      byDst.set(dstId, { rest, record: sum, next: byDst.get(dstId) });
    }
    return out;
  }
}

/** One-off roll-up of `records` (see RollUp#records). */
export function rollUp(records: readonly FlowRecord[], level: AggregationLevel): FlowRecord[] {
  return new RollUp(level).records(records);
}
