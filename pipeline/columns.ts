/**
 * Batches whose records are columns (pipeline/flow.ts FlowColumns): making
 * them, turning them into records for a component that reads records, and
 * copying a batch of either form for fan-out. pipeline/README.md, "Columns",
 * says which components read columns.
 */
import { TRAFFIC_CLASSES, type FlowBatch, type FlowColumns, type FlowEndpoint, type FlowRecord, type TrafficClass } from './flow.ts';

/** Empty columns with room for `capacity` rows and no ends yet. */
export function newColumns(capacity: number): FlowColumns {
  return {
    length: 0,
    ends: [],
    src: new Uint32Array(capacity),
    srcPort: new Uint16Array(capacity),
    dst: new Uint32Array(capacity),
    dstPort: new Uint16Array(capacity),
    transport: new Uint8Array(capacity),
    transports: [],
    family: new Uint8Array(capacity),
    bytes: new Float64Array(capacity),
    packets: new Float64Array(capacity),
    trafficClass: new Uint8Array(capacity),
    ignored: new Uint8Array(capacity),
  };
}

/** The column value of a traffic class (0 for none). */
export function classCode(trafficClass: TrafficClass | undefined): number {
  return trafficClass === undefined ? 0 : TRAFFIC_CLASSES.indexOf(trafficClass) + 1;
}

/** The traffic class a column value stands for. */
export function classOf(code: number): TrafficClass | undefined {
  return code === 0 ? undefined : TRAFFIC_CLASSES[code - 1];
}

/** The number of `transport` in `columns.transports`, added when new. */
export function transportCode(columns: FlowColumns, transport: string): number {
  const transports = columns.transports;
  let t = transports.indexOf(transport);
  if (t < 0) {
    if (transports.length === 256) throw new Error('a batch of columns holds at most 256 transports');
    t = transports.push(transport) - 1;
  }
  return t;
}

/**
 * An end as a row has it: `end` itself when the row's port is the end's,
 * else a copy with the port (a new object: ends are read-only).
 */
function withPort(end: FlowEndpoint, port: number): FlowEndpoint {
  return port === end.port ? end : { ...end, port };
}

/** Row `i` as a record of its own (its ends may be shared with other records: read-only). */
export function recordAt(columns: FlowColumns, i: number): FlowRecord {
  const c = columns;
  const record: FlowRecord = {
    src: withPort(c.ends[c.src[i]!]!, c.srcPort[i]!),
    dst: withPort(c.ends[c.dst[i]!]!, c.dstPort[i]!),
    transport: c.transports[c.transport[i]!]!,
    ipFamily: c.family[i] === 1 ? 'ipv6' : 'ipv4',
    bytes: c.bytes[i]!,
    packets: c.packets[i]!,
  };
  const trafficClass = classOf(c.trafficClass[i]!);
  if (trafficClass !== undefined) record.trafficClass = trafficClass;
  if (c.ignored[i] === 1) record.ignored = true;
  return record;
}

/** Every row as a record, in order. */
export function columnsToRecords(columns: FlowColumns): FlowRecord[] {
  const records: FlowRecord[] = new Array(columns.length);
  for (let i = 0; i < columns.length; i++) records[i] = recordAt(columns, i);
  return records;
}

/**
 * Records as columns (tests, benchmarks, and receivers that have records):
 * one end per distinct endpoint object content without its port. `costUsd`
 * has no column: records that carry a cost are refused.
 */
export function columnsFromRecords(records: readonly FlowRecord[]): FlowColumns {
  const c = newColumns(records.length);
  const endIds = new Map<string, number>();
  const endId = (ep: FlowEndpoint): number => {
    const end: FlowEndpoint = { ...ep, port: 0 };
    const key = JSON.stringify(end, Object.keys(end).sort());
    let id = endIds.get(key);
    if (id === undefined) {
      id = c.ends.push(Object.freeze(end)) - 1;
      endIds.set(key, id);
    }
    return id;
  };
  for (const r of records) {
    if (r.costUsd !== undefined) throw new Error('columns carry no cost: cost is added after the columnar stages (processors/cost reads records)');
    const i = c.length++;
    c.src[i] = endId(r.src);
    c.srcPort[i] = r.src.port;
    c.dst[i] = endId(r.dst);
    c.dstPort[i] = r.dst.port;
    c.transport[i] = transportCode(c, r.transport);
    c.family[i] = r.ipFamily === 'ipv6' ? 1 : 0;
    c.bytes[i] = r.bytes;
    c.packets[i] = r.packets;
    c.trafficClass[i] = classCode(r.trafficClass);
    c.ignored[i] = r.ignored === true ? 1 : 0;
  }
  return c;
}

/**
 * Keeps the rows whose `keep` entry is non-zero, in order, moved to the
 * front; returns how many were dropped. The ends stay (rows may no longer
 * name some of them).
 */
export function keepRows(columns: FlowColumns, keep: Uint8Array): number {
  const c = columns;
  let kept = 0;
  for (let i = 0; i < c.length; i++) {
    if (keep[i] === 0) continue;
    if (kept !== i) {
      c.src[kept] = c.src[i]!;
      c.srcPort[kept] = c.srcPort[i]!;
      c.dst[kept] = c.dst[i]!;
      c.dstPort[kept] = c.dstPort[i]!;
      c.transport[kept] = c.transport[i]!;
      c.family[kept] = c.family[i]!;
      c.bytes[kept] = c.bytes[i]!;
      c.packets[kept] = c.packets[i]!;
      c.trafficClass[kept] = c.trafficClass[i]!;
      c.ignored[kept] = c.ignored[i]!;
    }
    kept++;
  }
  const dropped = c.length - kept;
  c.length = kept;
  return dropped;
}

/** A copy whose rows can be changed without changing `columns` (ends are shared: read-only). */
export function cloneColumns(columns: FlowColumns): FlowColumns {
  const c = columns;
  const n = c.length;
  return {
    length: n,
    ends: c.ends.slice(),
    src: c.src.slice(0, n),
    srcPort: c.srcPort.slice(0, n),
    dst: c.dst.slice(0, n),
    dstPort: c.dstPort.slice(0, n),
    transport: c.transport.slice(0, n),
    transports: c.transports.slice(),
    family: c.family.slice(0, n),
    bytes: c.bytes.slice(0, n),
    packets: c.packets.slice(0, n),
    trafficClass: c.trafficClass.slice(0, n),
    ignored: c.ignored.slice(0, n),
  };
}

/**
 * A batch that starts as columns. Reading `records` turns the rows into
 * records once and drops the columns; assigning `records` replaces the
 * columns too. So a pipeline mixes components that read columns with ones
 * that read records, and each sees the batch as the last one left it.
 */
export class ColumnBatch implements FlowBatch {
  start: number;
  end: number;
  #columns: FlowColumns | undefined;
  #records: FlowRecord[] | undefined;

  constructor(start: number, end: number, columns: FlowColumns) {
    this.start = start;
    this.end = end;
    this.#columns = columns;
  }

  get columns(): FlowColumns | undefined {
    return this.#columns;
  }

  get records(): FlowRecord[] {
    if (this.#records === undefined) {
      this.#records = columnsToRecords(this.#columns!);
      this.#columns = undefined;
    }
    return this.#records;
  }

  set records(records: FlowRecord[]) {
    this.#records = records;
    this.#columns = undefined;
  }
}

/** Deep copy, for fan-out to a consumer that changes the batch; columns stay columns. */
export function cloneBatch(batch: FlowBatch): FlowBatch {
  const columns = batch.columns;
  if (columns !== undefined) return new ColumnBatch(batch.start, batch.end, cloneColumns(columns));
  return {
    start: batch.start,
    end: batch.end,
    records: batch.records.map((r) => ({ ...r, src: { ...r.src }, dst: { ...r.dst } })),
  };
}
