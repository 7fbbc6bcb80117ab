/**
 * Rolling flow records up to pods, workloads or namespaces (README.md has the
 * table of what each level keeps). Records that end up with the same ends,
 * transport, IP family and traffic class are summed into one.
 */
import { TRAFFIC_CLASSES, type FlowEndpoint, type FlowRecord } from '../../pipeline/flow.ts';

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
    // The Service and the chosen labels are kept at every level: cost by Service and by team is read from them.
    if (ep.service) out.service = ep.service;
    if (ep.serviceNamespace) out.serviceNamespace = ep.serviceNamespace;
    if (ep.serviceTopologyAware) out.serviceTopologyAware = true;
    // What an external block is: kept with its name, at every level (a handful of values).
    if (ep.externalKind) out.externalKind = ep.externalKind;
    if (ep.podLabels !== undefined) out.podLabels = ep.podLabels;
    if (ep.namespaceLabels !== undefined) out.namespaceLabels = ep.namespaceLabels;
  }
  if (ep.zone) out.zone = ep.zone;
  if (ep.region) out.region = ep.region;
  return out;
}

/** Group key of a rolled-up endpoint: every field it can hold. */
function endpointKey(ep: FlowEndpoint): string {
  return [ep.address, ep.namespace, ep.pod, ep.workloadKind, ep.workloadName, ep.node, ep.zone, ep.region, ep.hostNetwork ? '1' : '', ep.service, ep.serviceNamespace, ep.serviceTopologyAware ? '1' : '', ep.externalKind, labelsKey(ep.podLabels), labelsKey(ep.namespaceLabels)].join(SEP);
}

/** Chosen labels in a group key, keys sorted (two agents may write them in another order). */
function labelsKey(labels: Readonly<Record<string, string>> | undefined): string {
  if (labels === undefined) return '';
  return Object.keys(labels)
    .sort()
    .map((k) => `${k}\u0000${labels[k]}`)
    .join('\u0002');
}

/** Most addresses remembered; past this the address book starts over (at a batch boundary). */
const MAX_REMEMBERED_ADDRESSES = 200_000;
/**
 * Ends with an identity (FlowEndpoint.identity, set by k8sattributes) below
 * this are remembered by identity in an array (no string hashing); others,
 * and ends without one, by address.
 */
const MAX_IDENTITY = 1 << 21;

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
  service: string | undefined;
  serviceNamespace: string | undefined;
  serviceTopologyAware: boolean | undefined;
  externalKind: string | undefined;
  /** Compared by reference: k8sattributes shares one object per distinct set. */
  podLabels: Readonly<Record<string, string>> | undefined;
  namespaceLabels: Readonly<Record<string, string>> | undefined;
  /** Index of the rolled-up endpoint in the address book. */
  rolled: number;

  constructor(ep: FlowEndpoint, rolled: number) {
    // Copied field by field: the record's own endpoint may be changed or reused after this batch.
    this.namespace = ep.namespace;
    this.pod = ep.pod;
    this.workloadKind = ep.workloadKind;
    this.workloadName = ep.workloadName;
    this.node = ep.node;
    this.zone = ep.zone;
    this.region = ep.region;
    this.hostNetwork = ep.hostNetwork;
    this.service = ep.service;
    this.serviceNamespace = ep.serviceNamespace;
    this.serviceTopologyAware = ep.serviceTopologyAware;
    this.externalKind = ep.externalKind;
    this.podLabels = ep.podLabels;
    this.namespaceLabels = ep.namespaceLabels;
    this.rolled = rolled;
  }

  /** Same attributes apart from the address and the port (which roll-up drops or keeps by address). */
  matches(ep: FlowEndpoint): boolean {
    return (
      this.pod === ep.pod && this.workloadName === ep.workloadName && this.zone === ep.zone && this.namespace === ep.namespace &&
      this.workloadKind === ep.workloadKind && this.node === ep.node && this.region === ep.region && this.hostNetwork === ep.hostNetwork &&
      this.service === ep.service && this.serviceNamespace === ep.serviceNamespace && this.serviceTopologyAware === ep.serviceTopologyAware && this.externalKind === ep.externalKind && this.podLabels === ep.podLabels && this.namespaceLabels === ep.namespaceLabels
    );
  }
}

/**
 * The distinct rolled-up endpoints, numbered, and which one each address gave
 * last time, with the attributes it had: an end whose address and attributes
 * are as last time (the usual case: the same pods, batch after batch) costs
 * one Map lookup and a few string comparisons (of interned strings: pointer
 * compares), with no key string built and nothing allocated. Shared by both
 * sides of the records (a pod is a source and a destination: one memo).
 */
class AddressBook {
  /** Rolled-up endpoints by number. */
  rolled: FlowEndpoint[] = [];
  /** Incremented when the book starts over (numbers are then given again from 0). */
  generation = 0;
  readonly #level: AggregationLevel;
  /** Above pod level, unnamed ends without zone or region all roll up to "elsewhere" (number 0 then). */
  readonly #collapseUnnamed: boolean;
  readonly #byKey = new Map<string, number>();
  readonly #byAddress = new Map<string, AddressMemo>();
  /** Memo per FlowEndpoint.identity below MAX_IDENTITY (undefined where none yet). */
  readonly #byIdentity: (AddressMemo | undefined)[] = [];

  constructor(level: AggregationLevel) {
    this.#level = level;
    this.#collapseUnnamed = level !== 'pod';
    this.#reset();
  }

  beginBatch(): void {
    if (this.#byAddress.size > MAX_REMEMBERED_ADDRESSES || this.#byIdentity.length > MAX_REMEMBERED_ADDRESSES * 4) this.#reset();
  }

  #reset(): void {
    this.#byAddress.clear();
    this.#byIdentity.length = 0;
    this.#byKey.clear();
    this.rolled = [];
    this.generation++;
    if (this.#collapseUnnamed) this.#number({ address: '', port: 0 });
  }

  /** The number of the endpoint `ep` rolls up to. */
  number(ep: FlowEndpoint): number {
    if (this.#collapseUnnamed && !ep.zone && !ep.region && !isNamed(ep)) return 0;
    const identity = ep.identity;
    // By identity only when the rolled-up end cannot depend on the address (named, or above pod level).
    if (identity !== undefined && identity < MAX_IDENTITY && (this.#collapseUnnamed || isNamed(ep))) {
      const memos = this.#byIdentity;
      const memo = memos[identity];
      if (memo !== undefined && memo.matches(ep)) return memo.rolled;
      const n = this.#number(rollUpEndpoint(ep, this.#level));
      while (memos.length <= identity) memos.push(undefined);
      memos[identity] = new AddressMemo(ep, n);
      return n;
    }
    const known = this.#byAddress.get(ep.address);
    if (known !== undefined && known.matches(ep)) return known.rolled;
    const n = this.#number(rollUpEndpoint(ep, this.#level));
    this.#byAddress.set(ep.address, new AddressMemo(ep, n));
    return n;
  }

  #number(rolled: FlowEndpoint): number {
    const key = endpointKey(rolled);
    let n = this.#byKey.get(key);
    if (n === undefined) {
      // Frozen: the output records share it (see RollUp#records).
      n = this.rolled.push(Object.freeze(rolled)) - 1;
      this.#byKey.set(key, n);
    }
    return n;
  }
}

/**
 * Numbers the distinct rolled-up endpoints of one side (source or
 * destination) of each batch, 0, 1, 2... in order of first appearance.
 */
class SideIds {
  /** Rolled-up endpoints of the current batch, by id. */
  endpoints: FlowEndpoint[] = [];
  readonly #book: AddressBook;
  /** Per address book number: the batch its id was given in, and the id. */
  #stamp = new Int32Array(1024);
  #id = new Int32Array(1024);
  #batch = 0;
  #generation = -1;

  constructor(book: AddressBook) {
    this.#book = book;
  }

  beginBatch(): void {
    this.endpoints = [];
    this.#batch++;
    if (this.#generation !== this.#book.generation) {
      this.#generation = this.#book.generation;
      this.#stamp.fill(0);
    }
  }

  id(ep: FlowEndpoint): number {
    const n = this.#book.number(ep);
    if (n >= this.#stamp.length) this.#grow(n);
    if (this.#stamp[n] === this.#batch) return this.#id[n]!;
    this.#stamp[n] = this.#batch;
    const id = this.endpoints.push(this.#book.rolled[n]!) - 1;
    this.#id[n] = id;
    return id;
  }

  #grow(n: number): void {
    let size = this.#stamp.length * 2;
    while (size <= n) size *= 2;
    const stamp = new Int32Array(size);
    stamp.set(this.#stamp);
    const id = new Int32Array(size);
    id.set(this.#id);
    this.#stamp = stamp;
    this.#id = id;
  }
}

/**
 * The part of a record's group key that is not its ends: transport, IP family,
 * class and the ignored mark, as one number. Transports and classes are
 * numbered in order of first appearance and remembered across batches (a
 * handful: tcp, udp, icmp...; the classes start as "none" followed by
 * TRAFFIC_CLASSES, so a class's number is its column value, classCode). A
 * class value that is not one of TRAFFIC_CLASSES (read from OTLP or a flow
 * log) gets a number of its own, so it is never summed with another.
 */
class RestKeys {
  readonly #transports: string[] = [];
  readonly #classes: (string | undefined)[] = [undefined, ...TRAFFIC_CLASSES];

  key(r: FlowRecord): number {
    return restKey(this.transportNumber(r.transport), r.ipFamily === 'ipv6' ? 1 : 0, this.#classNumber(r.trafficClass), r.ignored ? 1 : 0);
  }

  transportNumber(transport: string): number {
    const transports = this.#transports;
    let t = 0;
    while (t < transports.length && transports[t] !== transport) t++;
    if (t === transports.length) transports.push(transport);
    return t;
  }

  #classNumber(trafficClass: string | undefined): number {
    const classes = this.#classes;
    let c = 0;
    while (c < classes.length && classes[c] !== trafficClass) c++;
    if (c === classes.length) {
      if (c === MAX_CLASSES) throw new Error(`more than ${MAX_CLASSES} distinct traffic class values reached the aggregate processor`);
      classes.push(trafficClass);
    }
    return c;
  }
}

/** Distinct class values (the six known, "none", and values from elsewhere) a RollUp tells apart. */
const MAX_CLASSES = 1 << 20;

/** One number per (transport number, family bit, class number, ignored bit): exact in a double below 2^53. */
function restKey(transport: number, family: number, trafficClass: number, ignored: number): number {
  return ((transport * MAX_CLASSES + trafficClass) * 2 + family) * 2 + ignored;
}

/** Smallest group table (slots; half as many groups). */
const MIN_SLOTS = 1 << 12;
/** Numbers per group in Groups#blocks. */
const GROUP = 8;

/**
 * The groups of the batch being rolled up. An open-addressing hash table maps
 * (source id, destination id, rest key) to the group's index; each group is
 * one block of 8 numbers (its key, its first record, its running sums: one
 * cache line), so adding a record to a group allocates nothing, hashes no
 * string and touches no record object; the output records are made once, at
 * the end. Reused from batch to batch.
 */
class Groups {
  /** Group index + 1 per slot (0: empty). A power of two, at least twice the groups. */
  #slots = new Int32Array(MIN_SLOTS);
  /**
   * Per group, GROUP numbers: source id, destination id, rest key, index in the
   * input of its first record (transport, IP family and class come from it),
   * bytes, packets, cost in USD, 1 when some record of the group had a cost.
   */
  blocks = new Float64Array(GROUP * (MIN_SLOTS >> 1));
  count = 0;

  /** Empties the table for the next batch; gives memory back when the last batch used under 1/8 of it. */
  clear(): void {
    const size = this.#slots.length;
    if (size > MIN_SLOTS && this.count * 16 < size) {
      this.#slots = new Int32Array(MIN_SLOTS);
      this.blocks = new Float64Array(GROUP * (MIN_SLOTS >> 1));
    } else if (this.count > 0) {
      this.#slots.fill(0);
    }
    this.count = 0;
  }

  /** Adds record `r` (input index `index`) to group (src, dst, rest), which is created when new. */
  add(src: number, dst: number, rest: number, r: FlowRecord, index: number): void {
    const slots = this.#slots;
    const mask = slots.length - 1;
    const blocks = this.blocks;
    let slot = hash(src, dst, rest) & mask;
    for (;;) {
      const found = slots[slot]!;
      if (found === 0) break;
      const at = (found - 1) * GROUP;
      if (blocks[at] === src && blocks[at + 1] === dst && blocks[at + 2] === rest) {
        blocks[at + 4] = blocks[at + 4]! + r.bytes;
        blocks[at + 5] = blocks[at + 5]! + r.packets;
        const cost = r.costUsd;
        if (cost !== undefined) {
          blocks[at + 6] = (blocks[at + 7] === 1 ? blocks[at + 6]! : 0) + cost;
          blocks[at + 7] = 1;
        }
        return;
      }
      slot = (slot + 1) & mask;
    }
    const g = this.count++;
    if ((g + 1) * GROUP > blocks.length) this.#grow();
    const b = this.blocks;
    const at = g * GROUP;
    const cost = r.costUsd;
    b[at] = src;
    b[at + 1] = dst;
    b[at + 2] = rest;
    b[at + 3] = index;
    b[at + 4] = r.bytes;
    b[at + 5] = r.packets;
    b[at + 6] = cost ?? 0;
    b[at + 7] = cost !== undefined ? 1 : 0;
    slots[slot] = g + 1;
    if (this.count * 2 > slots.length) this.#rehash(slots.length * 2);
  }

  #grow(): void {
    const blocks = new Float64Array(this.blocks.length * 2);
    blocks.set(this.blocks);
    this.blocks = blocks;
  }

  #rehash(size: number): void {
    const slots = new Int32Array(size);
    const mask = size - 1;
    const b = this.blocks;
    for (let g = 0; g < this.count; g++) {
      const at = g * GROUP;
      let slot = hash(b[at]!, b[at + 1]!, b[at + 2]!) & mask;
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
  readonly #src: SideIds;
  readonly #dst: SideIds;
  readonly #book: AddressBook;
  readonly #rest = new RestKeys();
  readonly #groups = new Groups();

  constructor(level: AggregationLevel) {
    this.#book = new AddressBook(level);
    this.#src = new SideIds(this.#book);
    this.#dst = new SideIds(this.#book);
  }

  /**
   * Sums `records` into one record per group, in order of first appearance.
   * Returns new records; the input is left as it was. Their ends are the
   * address book's rolled-up endpoints, shared between records and batches
   * and frozen (a change throws rather than alters other records): one
   * allocation per group instead of three, which halves the garbage the
   * roll-up leaves when few records merge.
   */
  records(records: readonly FlowRecord[]): FlowRecord[] {
    const src = this.#src;
    const dst = this.#dst;
    const restKeys = this.#rest;
    const groups = this.#groups;
    this.#book.beginBatch();
    src.beginBatch();
    dst.beginBatch();
    groups.clear();
    for (let i = 0; i < records.length; i++) {
      const r = records[i]!;
      groups.add(src.id(r.src), dst.id(r.dst), restKeys.key(r), r, i);
    }
    const out: FlowRecord[] = new Array(groups.count);
    const blocks = groups.blocks;
    for (let g = 0; g < groups.count; g++) {
      const at = g * GROUP;
      const first = records[blocks[at + 3]!]!;
      const sum: FlowRecord = {
        src: src.endpoints[blocks[at]!]!,
        dst: dst.endpoints[blocks[at + 1]!]!,
        transport: first.transport,
        ipFamily: first.ipFamily,
        bytes: blocks[at + 4]!,
        packets: blocks[at + 5]!,
      };
      if (first.trafficClass !== undefined) sum.trafficClass = first.trafficClass;
      if (first.ignored) sum.ignored = true;
      if (blocks[at + 7] === 1) sum.costUsd = blocks[at + 6]!;
      out[g] = sum;
    }
    return out;
  }
}

/** One-off roll-up of `records` (see RollUp#records). */
export function rollUp(records: readonly FlowRecord[], level: AggregationLevel): FlowRecord[] {
  return new RollUp(level).records(records);
}
