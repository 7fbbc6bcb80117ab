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

  constructor(sum: Uint8Array) {
    this.bytes = Buffer.isBuffer(sum) ? sum : Buffer.from(sum.buffer, sum.byteOffset, sum.length);
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
   * The current point's attribute list as a string of its exact encoding (a
   * latin1 view of the bytes), the stream key. Serializers write the
   * KeyValues back to back; if not, they are joined with a character latin1
   * text cannot hold.
   */
  attributesKey(): string {
    if (this.#attrStart < 0) return '';
    if (this.#attrContiguous) return this.bytes.toString('latin1', this.#attrStart, this.#attrEnd);
    let key = '';
    const r = this.#reader;
    r.pos = this.pointStart;
    r.len = this.pointEnd;
    try {
      while (r.pos < this.pointEnd) {
        const tagStart = r.pos;
        const tag = r.uint32();
        r.skipType(tag & 7);
        if (tag >>> 3 === 7) key += (key ? '\u0100' : '') + this.bytes.toString('latin1', tagStart, r.pos);
      }
    } finally {
      r.len = this.#end;
    }
    return key;
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
