/**
 * Reads an encoded Sum (opentelemetry.proto.metrics.v1.Sum) and its
 * NumberDataPoints with protobufjs' Reader, without allocating per point:
 *
 *   message Sum { repeated NumberDataPoint data_points = 1; AggregationTemporality aggregation_temporality = 2; bool is_monotonic = 3; }
 *   message NumberDataPoint { repeated KeyValue attributes = 7; fixed64 start_time_unix_nano = 2; fixed64 time_unix_nano = 3;
 *                             oneof value { double as_double = 4; sfixed64 as_int = 6; } repeated Exemplar exemplars = 5; uint32 flags = 8; }
 *
 * Malformed input (truncation, wrong wire types) throws.
 */
import protobuf from 'protobufjs';

const TWO_32 = 4294967296;
const EMPTY = Buffer.alloc(0);

/**
 * Two 32-bit multiplicative hash lanes over 4-byte words, combined into 53
 * bits. Not cryptographic: collisions are resolved by comparing bytes.
 */
export function hashBytes(view: DataView, start: number, end: number): number {
  let a = 0x811c9dc5 ^ (end - start);
  let b = 0x01000193;
  let i = start;
  for (; i + 4 <= end; i += 4) {
    const w = view.getUint32(i, true);
    a = Math.imul(a ^ w, 0x9e3779b1);
    a ^= a >>> 15;
    b = Math.imul(b + w, 0x85ebca77);
    b ^= b >>> 13;
  }
  for (; i < end; i++) {
    const w = view.getUint8(i);
    a = Math.imul(a ^ w, 0x9e3779b1);
    b = Math.imul(b + w, 0x85ebca77);
  }
  a = Math.imul(a ^ (a >>> 16), 0x85ebca6b);
  b = Math.imul(b ^ (b >>> 16), 0xc2b2ae35);
  return ((b >>> 11) * TWO_32) + (a >>> 0);
}
const WIRE_VARINT = 0;
const WIRE_FIXED64 = 1;
const WIRE_BYTES = 2;

function expect(wire: number, want: number, field: string): void {
  if (wire !== want) throw new Error(`${field}: wire type ${wire}, expected ${want}`);
}

/** The fields of the current point; valid after next() returned true. */
export class SumReader {
  readonly #reader: protobuf.Reader;
  readonly #end: number;
  /** Offsets of every point's bytes (start, end pairs). */
  readonly #points: number[] = [];
  #index = 0;
  /** The Sum as a Buffer, for latin1 keys of attribute ranges. */
  readonly bytes: Buffer;
  temporality = 0;
  monotonic = false;

  startNs = 0;
  timeNs = 0;
  /** NaN when the point has no value. */
  value = NaN;
  pointStart = 0;
  pointEnd = 0;

  #attrStart = -1;
  #attrEnd = -1;
  #attrContiguous = true;

  readonly #view: DataView;

  constructor(sum: Uint8Array) {
    this.bytes = Buffer.isBuffer(sum) ? sum : Buffer.from(sum.buffer, sum.byteOffset, sum.length);
    this.#view = new DataView(this.bytes.buffer, this.bytes.byteOffset, this.bytes.length);
    const r = (this.#reader = protobuf.Reader.create(this.bytes));
    this.#end = r.len;
    while (r.pos < this.#end) {
      const tag = r.uint32();
      const field = tag >>> 3;
      const wire = tag & 7;
      if (field === 1) {
        expect(wire, WIRE_BYTES, 'Sum.data_points');
        const len = r.uint32();
        const start = r.pos;
        r.skip(len);
        this.#points.push(start, start + len);
      } else if (field === 2) {
        expect(wire, WIRE_VARINT, 'Sum.aggregation_temporality');
        this.temporality = r.int32();
      } else if (field === 3) {
        expect(wire, WIRE_VARINT, 'Sum.is_monotonic');
        this.monotonic = r.bool();
      } else {
        r.skipType(wire);
      }
    }
  }

  get count(): number {
    return this.#points.length / 2;
  }

  /** Moves to the next point and reads it; false after the last one. */
  next(): boolean {
    if (this.#index >= this.#points.length) return false;
    const start = this.#points[this.#index]!;
    const end = this.#points[this.#index + 1]!;
    this.#index += 2;
    this.pointStart = start;
    this.pointEnd = end;
    this.startNs = 0;
    this.timeNs = 0;
    this.value = NaN;
    this.#attrStart = -1;
    this.#attrEnd = -1;
    this.#attrContiguous = true;
    const r = this.#reader;
    r.pos = start;
    r.len = end;
    try {
      while (r.pos < end) {
        const tagStart = r.pos;
        const tag = r.uint32();
        const field = tag >>> 3;
        const wire = tag & 7;
        switch (field) {
          case 7: {
            expect(wire, WIRE_BYTES, 'NumberDataPoint.attributes');
            const len = r.uint32();
            r.skip(len);
            if (this.#attrStart < 0) this.#attrStart = tagStart;
            else if (this.#attrEnd !== tagStart) this.#attrContiguous = false;
            this.#attrEnd = r.pos;
            break;
          }
          case 2:
            expect(wire, WIRE_FIXED64, 'NumberDataPoint.start_time_unix_nano');
            this.startNs = r.fixed32() + r.fixed32() * TWO_32;
            break;
          case 3:
            expect(wire, WIRE_FIXED64, 'NumberDataPoint.time_unix_nano');
            this.timeNs = r.fixed32() + r.fixed32() * TWO_32;
            break;
          case 4:
            expect(wire, WIRE_FIXED64, 'NumberDataPoint.as_double');
            this.value = r.double();
            break;
          case 6:
            expect(wire, WIRE_FIXED64, 'NumberDataPoint.as_int');
            this.value = r.fixed32() + r.sfixed32() * TWO_32;
            break;
          default:
            r.skipType(wire);
        }
      }
    } finally {
      r.len = this.#end;
    }
    return true;
  }

  /**
   * The current point's attribute list exactly as encoded (the KeyValue
   * fields, tags included): the stream identity. Every OTLP serializer writes
   * the KeyValues back to back, so this is normally a view into the Sum;
   * otherwise the fields are copied together.
   */
  attributesBytes(): Buffer {
    if (this.#attrStart < 0) return EMPTY;
    if (this.#attrContiguous) return this.bytes.subarray(this.#attrStart, this.#attrEnd);
    const parts: Buffer[] = [];
    const r = this.#reader;
    r.pos = this.pointStart;
    r.len = this.pointEnd;
    try {
      while (r.pos < this.pointEnd) {
        const tagStart = r.pos;
        const tag = r.uint32();
        r.skipType(tag & 7);
        if (tag >>> 3 === 7) parts.push(this.bytes.subarray(tagStart, r.pos));
      }
    } finally {
      r.len = this.#end;
    }
    return Buffer.concat(parts);
  }

  /** A 53-bit hash of attributesBytes(), computed in place when contiguous. */
  attributesHash(): number {
    if (this.#attrStart < 0) return 0;
    if (this.#attrContiguous) return hashBytes(this.#view, this.#attrStart, this.#attrEnd);
    const copy = this.attributesBytes();
    return hashBytes(new DataView(copy.buffer, copy.byteOffset, copy.length), 0, copy.length);
  }

  /** True when the current point's attributes are exactly `stored` (an earlier attributesBytes() copy). */
  attributesEqual(stored: Buffer): boolean {
    if (this.#attrStart < 0) return stored.length === 0;
    if (this.#attrContiguous) {
      return this.#attrEnd - this.#attrStart === stored.length && this.bytes.compare(stored, 0, stored.length, this.#attrStart, this.#attrEnd) === 0;
    }
    return this.attributesBytes().equals(stored);
  }

  /** The current point's encoding (for decoding its attributes). */
  pointBytes(): Buffer {
    return this.bytes.subarray(this.pointStart, this.pointEnd);
  }
}

/** Number of data points in an encoded Sum, without reading them. */
export function countSumPoints(sum: Uint8Array): number {
  return new SumReader(sum).count;
}
