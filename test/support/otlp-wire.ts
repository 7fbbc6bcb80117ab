/**
 * Test support: OTLP metric requests written byte by byte with protobufjs'
 * Writer, for what the official serializer will not produce: +Inf, NaN and
 * 1e308 values, times of 2^64 - 1, a start after the time, attribute values
 * of any length or nesting, unknown temporalities. Field numbers are
 * opentelemetry-proto's (receivers/otlp/proto.ts declares the same).
 */
import protobuf from 'protobufjs';

/** An attribute value: a string, or a value nested in `depth` array values around a string. */
export type WireValue = string | { nested: number; inner: string } | { double: number } | { int: number };

export interface WirePoint {
  attributes: readonly (readonly [string, WireValue])[];
  /** Nanoseconds since the epoch (bigint: any 64-bit value); 0n or absent: none. */
  startNs?: bigint;
  timeNs: bigint;
  /** Written as as_double, or as_int when `int` is set (truncated; not finite: the largest int64). */
  value: number;
  int?: boolean;
}

export interface WireRequest {
  instanceId: string;
  /** Resource attributes besides service.instance.id. */
  resource?: readonly (readonly [string, WireValue])[];
  metric?: string;
  /** 1 delta, 2 cumulative (others are invalid); default 1. */
  temporality?: number;
  monotonic?: boolean;
  points: readonly WirePoint[];
}

const LEN = 2;
const FIXED64 = 1;
const VARINT = 0;
const tag = (field: number, wire: number) => (field << 3) | wire;

function fixed64(w: protobuf.Writer, v: bigint): void {
  const u = BigInt.asUintN(64, v);
  w.fixed32(Number(u & 0xffffffffn)).fixed32(Number(u >> 32n));
}

/** An AnyValue message. */
function anyValue(v: WireValue): Uint8Array {
  if (typeof v === 'string') return protobuf.Writer.create().uint32(tag(1, LEN)).string(v).finish();
  if ('double' in v) return protobuf.Writer.create().uint32(tag(4, FIXED64)).double(v.double).finish();
  if ('int' in v) return protobuf.Writer.create().uint32(tag(3, VARINT)).int64(v.int).finish();
  // Each level is an AnyValue whose array_value (5) holds an ArrayValue whose values (1) hold the
  // level below: the lengths are worked out inside out, then the prefixes written outside in, so
  // that even 100,000 levels take linear time.
  const inner = anyValue(v.inner);
  const prefixes: Uint8Array[] = [];
  let length = inner.length;
  for (let i = 0; i < v.nested; i++) {
    const arrayValue = protobuf.Writer.create().uint32(tag(1, LEN)).uint32(length).finish();
    length += arrayValue.length;
    const anyValuePrefix = protobuf.Writer.create().uint32(tag(5, LEN)).uint32(length).finish();
    length += anyValuePrefix.length;
    prefixes.push(arrayValue, anyValuePrefix);
  }
  return Buffer.concat([...prefixes.reverse(), inner]);
}

function keyValue(key: string, value: WireValue): Uint8Array {
  return protobuf.Writer.create().uint32(tag(1, LEN)).string(key).uint32(tag(2, LEN)).bytes(anyValue(value)).finish();
}

function point(p: WirePoint): Uint8Array {
  const w = protobuf.Writer.create();
  for (const [k, v] of p.attributes) w.uint32(tag(7, LEN)).bytes(keyValue(k, v));
  if (p.startNs) {
    w.uint32(tag(2, FIXED64));
    fixed64(w, p.startNs);
  }
  w.uint32(tag(3, FIXED64));
  fixed64(w, p.timeNs);
  if (p.int) {
    // as_int has no infinity or NaN: those become the largest int64.
    w.uint32(tag(6, FIXED64));
    fixed64(w, Number.isFinite(p.value) ? BigInt(Math.trunc(p.value)) : 2n ** 63n - 1n);
  } else {
    w.uint32(tag(4, FIXED64)).double(p.value);
  }
  return w.finish();
}

/** An ExportMetricsServiceRequest with one resource, one scope and one Sum metric. */
export function encodeWireRequest(r: WireRequest): Uint8Array {
  const sum = protobuf.Writer.create();
  for (const p of r.points) sum.uint32(tag(1, LEN)).bytes(point(p));
  sum.uint32(tag(2, VARINT)).int32(r.temporality ?? 1);
  sum.uint32(tag(3, VARINT)).bool(r.monotonic ?? true);
  const metric = protobuf.Writer.create().uint32(tag(1, LEN)).string(r.metric ?? 'zonetap.network.flow.bytes').uint32(tag(7, LEN)).bytes(sum.finish()).finish();
  const scope = protobuf.Writer.create().uint32(tag(2, LEN)).bytes(metric).finish();
  const resource = protobuf.Writer.create();
  for (const [k, v] of [['service.instance.id', r.instanceId] as const, ...(r.resource ?? [])]) resource.uint32(tag(1, LEN)).bytes(keyValue(k, v));
  const resourceMetrics = protobuf.Writer.create().uint32(tag(1, LEN)).bytes(resource.finish()).uint32(tag(2, LEN)).bytes(scope).finish();
  return protobuf.Writer.create().uint32(tag(1, LEN)).bytes(resourceMetrics).finish();
}

/** Nanoseconds of a time in milliseconds. */
export function ns(ms: number): bigint {
  return BigInt(Math.round(ms)) * 1_000_000n;
}
