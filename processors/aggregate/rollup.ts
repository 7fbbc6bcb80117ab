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
 * What an address was last seen as (every attribute roll-up reads), and the
 * rolled-up endpoint that gave. One object of one shape per address, so
 * checking that an end is as last time touches a single object.
 */
class AddressMemo {
  namespace: string | undefined;
  pod: string | undefined;
  workloadKind: string | undefined;
  workloadName: string | undefined;
  node: string | undefined;
  zone: string | undefined;
  region: string | undefined;
  hostNetwork: boolean | undefined;
  entry: CatalogEntry;

  constructor(ep: FlowEndpoint, entry: CatalogEntry) {
    // Copied field by field: the record's own endpoint may be changed or reused after this batch.
    this.namespace = ep.namespace;
    this.pod = ep.pod;
    this.workloadKind = ep.workloadKind;
    this.workloadName = ep.workloadName;
    this.node = ep.node;
    this.zone = ep.zone;
    this.region = ep.region;
    this.hostNetwork = ep.hostNetwork;
    this.entry = entry;
  }

  /** Same attributes apart from the address and the port (which roll-up drops or keeps by address). */
  matches(ep: FlowEndpoint): boolean {
    return (
      this.pod === ep.pod && this.workloadName === ep.workloadName && this.zone === ep.zone && this.namespace === ep.namespace &&
      this.workloadKind === ep.workloadKind && this.node === ep.node && this.region === ep.region && this.hostNetwork === ep.hostNetwork
    );
  }
}

/**
 * Numbers the distinct rolled-up endpoints of each batch, for one side, and
 * remembers across batches which rolled-up endpoint each address gave, with
 * the attributes it had: a record whose end has the same address and
 * attributes as last time (the usual case: the same pods, batch after batch)
 * costs one Map lookup and a few string comparisons (of interned strings:
 * pointer compares), with no key string built and nothing allocated.
 */
class EndpointCatalog {
  /** Rolled-up endpoints of the current batch, by id. */
  endpoints: FlowEndpoint[] = [];
  readonly #level: AggregationLevel;
  /** Above pod level, unnamed ends without zone or region all roll up to "elsewhere". */
  readonly #collapseUnnamed: boolean;
  readonly #byKey = new Map<string, CatalogEntry>();
  readonly #byAddress = new Map<string, AddressMemo>();
  /** Above pod level: the unnamed end without zone or region ("elsewhere"). */
  readonly #elsewhere: CatalogEntry = { endpoint: { address: '', port: 0 }, batch: -1, id: -1 };
  #batch = 0;

  constructor(level: AggregationLevel) {
    this.#level = level;
    this.#collapseUnnamed = level !== 'pod';
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
    if (this.#collapseUnnamed && !ep.zone && !ep.region && !isNamed(ep)) return this.#elsewhere;
    const known = this.#byAddress.get(ep.address);
    if (known !== undefined && known.matches(ep)) return known.entry;
    const rolled = rollUpEndpoint(ep, this.#level);
    const key = endpointKey(rolled);
    let entry = this.#byKey.get(key);
    if (entry === undefined) this.#byKey.set(key, (entry = { endpoint: rolled, batch: -1, id: -1 }));
    this.#byAddress.set(ep.address, new AddressMemo(ep, entry));
    return entry;
  }
}

/** Traffic classes (and "none" when crosszone did not run) as small numbers, for group keys. */
const CLASS_SLOTS = 6;
function classSlot(trafficClass: TrafficClass | undefined): number {
  switch (trafficClass) {
    case undefined:
      return 0;
    case 'same_zone':
      return 1;
    case 'cross_zone':
      return 2;
    case 'cross_region':
      return 3;
    case 'internet':
      return 4;
    default:
      return 5; // unknown
  }
}

/**
 * The part of a record's group key that is not its ends: transport, IP family
 * and class, as one small number. Transports are numbered in order of first
 * appearance and remembered across batches (there are a handful: tcp, udp, icmp...).
 */
class RestKeys {
  readonly #transports: string[] = [];
  key(r: FlowRecord): number {
    const transports = this.#transports;
    let t = 0;
    while (t < transports.length && transports[t] !== r.transport) t++;
    if (t === transports.length) transports.push(r.transport);
    return (t * 2 + (r.ipFamily === 'ipv6' ? 1 : 0)) * CLASS_SLOTS + classSlot(r.trafficClass);
  }
}

/**
 * The groups of the batch being rolled up. An open-addressing hash table maps
 * (source id, destination id, rest key) to the group's index; per group, typed
 * arrays hold its key, its first record and its running sums. Looking a group
 * up or adding to it allocates nothing, hashes no string and touches no
 * record object: the output records are made once, at the end. Reused from
 * batch to batch.
 */
class Groups {
  /** Group index + 1 per slot; 0 is empty. Length is a power of two, at least twice the groups. */
  #slots = new Int32Array(1 << 12);
  src = new Int32Array(1 << 11);
  dst = new Int32Array(1 << 11);
  rest = new Int32Array(1 << 11);
  /** Index in the input of the group's first record (transport, IP family and class come from it). */
  first = new Int32Array(1 << 11);
  bytes = new Float64Array(1 << 11);
  packets = new Float64Array(1 << 11);
  costUsd = new Float64Array(1 << 11);
  /** 1 when some record of the group had a cost. */
  hasCost = new Uint8Array(1 << 11);
  count = 0;

  clear(): void {
    if (this.count > 0) this.#slots.fill(0);
    this.count = 0;
  }

  /** Adds record `r` (input index `index`) to group (src, dst, rest), which is created when new. */
  add(src: number, dst: number, rest: number, r: FlowRecord, index: number): void {
    const slots = this.#slots;
    const mask = slots.length - 1;
    let slot = hash(src, dst, rest) & mask;
    for (;;) {
      const found = slots[slot]!;
      if (found === 0) break;
      const g = found - 1;
      if (this.src[g] === src && this.dst[g] === dst && this.rest[g] === rest) {
        this.bytes[g] += r.bytes;
        this.packets[g] += r.packets;
        const cost = r.costUsd;
        if (cost !== undefined) {
          this.costUsd[g] = (this.hasCost[g] === 1 ? this.costUsd[g]! : 0) + cost;
          this.hasCost[g] = 1;
        }
        return;
      }
      slot = (slot + 1) & mask;
    }
    const g = this.count++;
    if (g === this.src.length) this.#grow();
    this.src[g] = src;
    this.dst[g] = dst;
    this.rest[g] = rest;
    this.first[g] = index;
    this.bytes[g] = r.bytes;
    this.packets[g] = r.packets;
    const cost = r.costUsd;
    this.costUsd[g] = cost ?? 0;
    this.hasCost[g] = cost !== undefined ? 1 : 0;
    slots[slot] = g + 1;
    if (this.count * 2 > slots.length) this.#rehash(slots.length * 2);
  }

  #grow(): void {
    const size = this.src.length * 2;
    const grow = <T extends Int32Array | Float64Array | Uint8Array>(a: T, b: T): T => (b.set(a), b);
    this.src = grow(this.src, new Int32Array(size));
    this.dst = grow(this.dst, new Int32Array(size));
    this.rest = grow(this.rest, new Int32Array(size));
    this.first = grow(this.first, new Int32Array(size));
    this.bytes = grow(this.bytes, new Float64Array(size));
    this.packets = grow(this.packets, new Float64Array(size));
    this.costUsd = grow(this.costUsd, new Float64Array(size));
    this.hasCost = grow(this.hasCost, new Uint8Array(size));
  }

  #rehash(size: number): void {
    const slots = new Int32Array(size);
    const mask = size - 1;
    for (let g = 0; g < this.count; g++) {
      let slot = hash(this.src[g]!, this.dst[g]!, this.rest[g]!) & mask;
      while (slots[slot] !== 0) slot = (slot + 1) & mask;
      slots[slot] = g + 1;
    }
    this.#slots = slots;
  }
}

function hash(src: number, dst: number, rest: number): number {
  let h = Math.imul(src, 0x9e3779b1) ^ Math.imul(dst + 0x7f4a7c15, 0x85ebca77) ^ Math.imul(rest + 1, 0xc2b2ae3d);
  h ^= h >>> 15;
  h = Math.imul(h, 0x2c1b3c6d);
  return h ^ (h >>> 13);
}

/**
 * Rolls batches up to one level. Keeps what it learnt about addresses from
 * one batch to the next (bounded), so use one instance per pipeline stage.
 */
export class RollUp {
  readonly #src: EndpointCatalog;
  readonly #dst: EndpointCatalog;
  readonly #rest = new RestKeys();
  readonly #groups = new Groups();

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
    const restKeys = this.#rest;
    const groups = this.#groups;
    src.beginBatch();
    dst.beginBatch();
    groups.clear();
    for (let i = 0; i < records.length; i++) {
      const r = records[i]!;
      groups.add(src.id(r.src), dst.id(r.dst), restKeys.key(r), r, i);
    }
    const out: FlowRecord[] = new Array(groups.count);
    for (let g = 0; g < groups.count; g++) {
      const first = records[groups.first[g]!]!;
      const sum: FlowRecord = {
        src: { ...src.endpoints[groups.src[g]!]! },
        dst: { ...dst.endpoints[groups.dst[g]!]! },
        transport: first.transport,
        ipFamily: first.ipFamily,
        bytes: groups.bytes[g]!,
        packets: groups.packets[g]!,
      };
      if (first.trafficClass !== undefined) sum.trafficClass = first.trafficClass;
      if (groups.hasCost[g] === 1) sum.costUsd = groups.costUsd[g]!;
      out[g] = sum;
    }
    return out;
  }
}

/** One-off roll-up of `records` (see RollUp#records). */
export function rollUp(records: readonly FlowRecord[], level: AggregationLevel): FlowRecord[] {
  return new RollUp(level).records(records);
}
