/**
 * Rolling flow records up to pods, workloads or namespaces (README.md has the
 * table of what each level keeps). Records that end up with the same ends,
 * transport, IP family, traffic class and ignored mark are summed into one.
 */
import { classOf } from '../../pipeline/columns.ts';
import { TRAFFIC_CLASSES, type FlowColumns, type FlowRecord, type IpFamily, type TrafficClass, type Transport } from '../../pipeline/flow.ts';
import { AddressBook } from './address-book.ts';
import type { AggregationLevel } from './endpoint.ts';
import { GROUP, Groups } from './groups.ts';

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

/**
 * Rolls batches up to one level. Keeps what it learnt about addresses from
 * one batch to the next (bounded), so use one instance per pipeline stage.
 * Records and columns give the same records for the same flows.
 */
export class RollUp {
  readonly #book: AddressBook;
  readonly #rest = new RestKeys();
  readonly #groups = new Groups();
  /** Per end number of the batch of columns being rolled up: its address book number, -1 until needed. */
  #endNumbers = new Int32Array(1024);

  constructor(level: AggregationLevel) {
    this.#book = new AddressBook(level);
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
    const book = this.#book;
    const restKeys = this.#rest;
    const groups = this.#groups;
    book.beginBatch();
    groups.clear();
    for (let i = 0; i < records.length; i++) {
      const r = records[i]!;
      groups.add(book.number(r.src), book.number(r.dst), restKeys.key(r), r.bytes, r.packets, r.costUsd, i);
    }
    const out: FlowRecord[] = new Array(groups.count);
    const blocks = groups.blocks;
    for (let g = 0; g < groups.count; g++) {
      const first = records[blocks[g * GROUP + 3]!]!;
      out[g] = this.#sum(g, first.transport, first.ipFamily, first.trafficClass, first.ignored === true);
    }
    return out;
  }

  /**
   * The rows of `columns` summed as records() sums the records they stand
   * for: the same records, in the same order, with the same shared ends. Each
   * END of the batch is rolled up once (its address book number kept per end
   * number), not once per row; ports, on the rows, are dropped at every
   * level. Columns carry no cost. The columns are left as they were.
   */
  columns(columns: FlowColumns): FlowRecord[] {
    const c = columns;
    const book = this.#book;
    const groups = this.#groups;
    book.beginBatch();
    groups.clear();
    const ends = c.ends;
    if (this.#endNumbers.length < ends.length) this.#endNumbers = new Int32Array(Math.max(ends.length, this.#endNumbers.length * 2));
    const numbers = this.#endNumbers;
    numbers.fill(-1, 0, ends.length);
    const transports = c.transports.map((t) => this.#rest.transportNumber(t));
    const { src, dst, transport, family, trafficClass, ignored, bytes, packets } = c;
    for (let i = 0; i < c.length; i++) {
      const s = src[i]!;
      let sn = numbers[s]!;
      if (sn < 0) sn = numbers[s] = book.number(ends[s]!);
      const d = dst[i]!;
      let dn = numbers[d]!;
      if (dn < 0) dn = numbers[d] = book.number(ends[d]!);
      // A class column value is the class's number in RestKeys (classCode order).
      const rest = restKey(transports[transport[i]!]!, family[i]!, trafficClass[i]!, ignored[i]!);
      groups.add(sn, dn, rest, bytes[i]!, packets[i]!, undefined, i);
    }
    const out: FlowRecord[] = new Array(groups.count);
    const blocks = groups.blocks;
    for (let g = 0; g < groups.count; g++) {
      const row = blocks[g * GROUP + 3]!;
      out[g] = this.#sum(g, c.transports[transport[row]!]!, family[row] === 1 ? 'ipv6' : 'ipv4', classOf(trafficClass[row]!), ignored[row] === 1);
    }
    return out;
  }

  /** The record of group `g`, with the rest of its key as its first record or row has it. */
  #sum(g: number, transport: Transport, ipFamily: IpFamily, trafficClass: TrafficClass | undefined, ignored: boolean): FlowRecord {
    const blocks = this.#groups.blocks;
    const rolled = this.#book.rolled;
    const at = g * GROUP;
    const sum: FlowRecord = { src: rolled[blocks[at]!]!, dst: rolled[blocks[at + 1]!]!, transport, ipFamily, bytes: blocks[at + 4]!, packets: blocks[at + 5]! };
    if (trafficClass !== undefined) sum.trafficClass = trafficClass;
    if (ignored) sum.ignored = true;
    if (blocks[at + 7] === 1) sum.costUsd = blocks[at + 6]!;
    return sum;
  }
}

/** One-off roll-up of `records` (see RollUp#records). */
export function rollUp(records: readonly FlowRecord[], level: AggregationLevel): FlowRecord[] {
  return new RollUp(level).records(records);
}
