/**
 * OTLP protobuf encoding of the exporter's requests, byte for byte what the official
 * ProtobufMetricsSerializer (@opentelemetry/otlp-transformer) writes, with one difference in
 * cost: each flow series' attributes are encoded once, when the series is first exported, and
 * copied into every later request. A flow series carries about 20 attribute strings and is
 * exported every interval (2 to 3 data points each time); the official serializer walks and
 * encodes them twice per data point (a size estimate, then the write), which was about 15% of
 * an agent's CPU at 10,000 flows per interval (bench/agent.bench.ts profile). The official
 * exporters take a serializer (transport.ts), so HTTP, retries, compression and the response
 * stay theirs.
 *
 * The cache is keyed by the attributes object (a WeakMap, so an expired series' bytes go with
 * it): the exporter's store makes one object per series and never changes it. A request with
 * anything other than sums or attribute values other than strings, numbers and booleans is
 * handed to the official serializer whole.
 */
import { ValueType, type HrTime } from '@opentelemetry/api';
import type { Resource } from '@opentelemetry/resources';
import { AggregationTemporality, DataPointType, type MetricData, type ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { ProtobufMetricsSerializer, type IExportMetricsServiceResponse, type ISerializer } from '@opentelemetry/otlp-transformer';

type Attributes = Readonly<Record<string, unknown>>;

/** Field numbers (opentelemetry/proto metrics.proto, common.proto, resource.proto) and wire types. */
const LEN = 2;
const I64 = 1;
const VARINT = 0;
const NUMBER_POINT_ATTRIBUTES = 7;
const RESOURCE_ATTRIBUTES = 1;
const SCOPE_ATTRIBUTES = 3;
/** start_time_unix_nano, time_unix_nano and as_int/as_double: a tag byte and 8 bytes each. */
const POINT_FIXED_BYTES = 27;

const tag = (field: number, wire: number) => (field << 3) | wire;

/** Encoded size of an unsigned varint of at most 2^53 (lengths, and non-negative int64 attribute values). */
function varintSize(v: number): number {
  let n = 1;
  while (v >= 128) {
    v = Math.floor(v / 128);
    n++;
  }
  return n;
}

/** A length-delimited field's size with its (one-byte) tag: tag, length, body. */
const fieldSize = (body: number) => 1 + varintSize(body) + body;

/** Writes into a buffer allocated at the request's exact size. */
class Writer {
  readonly bytes: Buffer;
  pos = 0;

  constructor(size: number) {
    this.bytes = Buffer.allocUnsafe(size);
  }

  byte(b: number): void {
    this.bytes[this.pos++] = b;
  }

  /** A varint of a number in the int64 range; negative ones as two's complement in ten bytes, as protobuf does. */
  varint(v: number): void {
    if (v >= 0 && v <= 0xffffffff) {
      while (v > 127) {
        this.bytes[this.pos++] = (v & 127) | 128;
        v >>>= 7;
      }
      this.bytes[this.pos++] = v;
      return;
    }
    let [low, high] = split64(v);
    while (high > 0 || low > 127) {
      this.bytes[this.pos++] = (low & 127) | 128;
      low = ((low >>> 7) | (high << 25)) >>> 0;
      high >>>= 7;
    }
    this.bytes[this.pos++] = low & 127;
  }

  fixed64(low: number, high: number): void {
    const b = this.bytes;
    const p = this.pos;
    b[p] = low & 255;
    b[p + 1] = (low >>> 8) & 255;
    b[p + 2] = (low >>> 16) & 255;
    b[p + 3] = low >>> 24;
    b[p + 4] = high & 255;
    b[p + 5] = (high >>> 8) & 255;
    b[p + 6] = (high >>> 16) & 255;
    b[p + 7] = high >>> 24;
    this.pos = p + 8;
  }

  /** An int64 value as sfixed64 (the official writeSfixed64). */
  sfixed64(v: number): void {
    if (v >= 0) this.fixed64(v >>> 0, (v / 4294967296) >>> 0);
    else {
      const [low, high] = split64(v);
      this.fixed64(low, high);
    }
  }

  double(v: number): void {
    this.bytes.writeDoubleLE(v, this.pos);
    this.pos += 8;
  }

  /** A length-delimited field holding `body` bytes that the caller writes next. */
  open(field: number, body: number): void {
    this.byte(tag(field, LEN));
    this.varint(body);
  }

  string(field: number, s: string, size: number): void {
    this.open(field, size);
    this.pos += this.bytes.write(s, this.pos, size, 'utf8');
  }

  copy(b: Uint8Array): void {
    this.bytes.set(b, this.pos);
    this.pos += b.length;
  }

  /**
   * HrTime [seconds, nanoseconds] as fixed64 nanoseconds since the epoch, with the official
   * serializer's arithmetic (writeHrTimeAsFixed64): exact, in numbers below 2^53. `seen` keeps
   * the last time written in that place ([seconds, nanoseconds, low, high]): the points of a
   * request share their end time, and most share their start time (the last export's).
   */
  hrTime(time: HrTime, seen: number[]): void {
    const seconds = time[0];
    const nanos = time[1];
    if (seconds !== seen[0] || nanos !== seen[1]) {
      const fromLow16 = (seconds & 0xffff) * 1e9;
      const fromHigh = ((seconds / 65536) >>> 0) * 1e9;
      const low = (fromLow16 >>> 0) + (((fromHigh & 0xffff) * 65536) >>> 0) + nanos;
      seen[0] = seconds;
      seen[1] = nanos;
      seen[2] = low >>> 0;
      seen[3] = (Math.floor(fromLow16 / 4294967296) + ((fromHigh / 65536) >>> 0) + Math.floor(low / 4294967296)) >>> 0;
    }
    this.fixed64(seen[2]!, seen[3]!);
  }
}

/** A number in the int64 range as its two's complement (low, high) 32-bit halves. */
function split64(v: number): [number, number] {
  const abs = Math.abs(v);
  let low = abs >>> 0;
  let high = Math.floor(abs / 4294967296) >>> 0;
  if (v < 0) {
    low = ~low >>> 0;
    high = ~high >>> 0;
    low = (low + 1) >>> 0;
    if (low === 0) high = (high + 1) >>> 0;
  }
  return [low, high];
}

const INT64_MIN = -(2 ** 63);
const INT64_MAX = 2 ** 63;

/** The AnyValue of an attribute (string, bool, int64 or double), or undefined for a value this encoder does not write. */
function anyValue(v: unknown): { size: number; write: (w: Writer) => void } | undefined {
  switch (typeof v) {
    case 'string': {
      const n = Buffer.byteLength(v);
      return { size: fieldSize(n), write: (w) => w.string(1, v, n) };
    }
    case 'boolean':
      return { size: 2, write: (w) => (w.byte(tag(2, VARINT)), w.byte(v ? 1 : 0)) };
    case 'number':
      if (Number.isInteger(v) && v >= INT64_MIN && v < INT64_MAX) return { size: 1 + (v < 0 ? 10 : varintSize(v)), write: (w) => (w.byte(tag(3, VARINT)), w.varint(v)) };
      return { size: 9, write: (w) => (w.byte(tag(4, I64)), w.double(v)) };
    default:
      return undefined;
  }
}

/** `attributes` as repeated KeyValue fields numbered `field`; undefined when a value is not a string, number or boolean. */
function encodeAttributes(attributes: Attributes, field: number): Buffer | undefined {
  const parts: { key: string; keySize: number; kvSize: number; value: NonNullable<ReturnType<typeof anyValue>> }[] = [];
  let size = 0;
  // for...in with an own-property check: the official serializer's order.
  for (const key in attributes) {
    if (!Object.prototype.hasOwnProperty.call(attributes, key)) continue;
    const value = anyValue(attributes[key]);
    if (value === undefined) return undefined;
    const keySize = Buffer.byteLength(key);
    const kvSize = fieldSize(keySize) + fieldSize(value.size);
    parts.push({ key, keySize, kvSize, value });
    size += fieldSize(kvSize);
  }
  const w = new Writer(size);
  for (const p of parts) {
    w.open(field, p.kvSize);
    w.string(1, p.key, p.keySize);
    w.open(2, p.value.size);
    p.value.write(w);
  }
  return w.bytes;
}

const utf8 = (s: string | undefined) => (s ? Buffer.byteLength(s) : 0);

/**
 * The protobuf serializer the exporter hands to the official OTLP exporters (ISerializer of
 * @opentelemetry/otlp-transformer): requests as ProtobufMetricsSerializer writes them, each series'
 * attributes encoded once; responses read by the official deserializer.
 */
export class FlowMetricsSerializer implements ISerializer<ResourceMetrics, IExportMetricsServiceResponse> {
  /** Encoded KeyValue fields of a data point's attributes, per attributes object. */
  readonly #points = new WeakMap<Attributes, Buffer>();
  /** The encoded Resource message (its attributes and dropped_attributes_count) per resource. */
  readonly #resources = new WeakMap<Resource, Buffer>();

  serializeRequest(request: ResourceMetrics): Uint8Array | undefined {
    return this.#encode(request) ?? ProtobufMetricsSerializer.serializeRequest(request);
  }

  deserializeResponse(data: Uint8Array): IExportMetricsServiceResponse {
    return ProtobufMetricsSerializer.deserializeResponse(data);
  }

  /** The ExportMetricsServiceRequest, or undefined when the request holds something this encoder does not write. */
  #encode(rm: ResourceMetrics): Buffer | undefined {
    const resource = this.#resource(rm.resource);
    if (resource === undefined) return undefined;
    // Sizes first (every length is known before its message is written), then one exact buffer.
    const scopes: { scope: Buffer; metricSizes: number[]; points: EncodedPoints[]; size: number }[] = [];
    let rmSize = fieldSize(resource.length) + (rm.resource.schemaUrl ? fieldSize(utf8(rm.resource.schemaUrl)) : 0);
    for (const sm of rm.scopeMetrics) {
      const scope = encodeScope(sm.scope);
      if (scope === undefined) return undefined;
      const metricSizes: number[] = [];
      const points: EncodedPoints[] = [];
      let size = fieldSize(scope.length) + (sm.scope.schemaUrl ? fieldSize(utf8(sm.scope.schemaUrl)) : 0);
      for (const m of sm.metrics) {
        const encoded = this.#encodePoints(m);
        if (encoded === undefined) return undefined;
        const metric = metricSize(m, encoded.sizes);
        metricSizes.push(metric);
        points.push(encoded);
        size += fieldSize(metric);
      }
      scopes.push({ scope, metricSizes, points, size });
      rmSize += fieldSize(size);
    }
    const w = new Writer(fieldSize(rmSize));
    w.open(1, rmSize);
    w.open(1, resource.length);
    w.copy(resource);
    const times = { start: [NaN, NaN, 0, 0], end: [NaN, NaN, 0, 0] };
    for (let i = 0; i < rm.scopeMetrics.length; i++) {
      const sm = rm.scopeMetrics[i]!;
      const { scope, metricSizes, points, size } = scopes[i]!;
      w.open(2, size);
      w.open(1, scope.length);
      w.copy(scope);
      for (let j = 0; j < sm.metrics.length; j++) writeMetric(w, sm.metrics[j]!, metricSizes[j]!, points[j]!, times);
      if (sm.scope.schemaUrl) w.string(3, sm.scope.schemaUrl, utf8(sm.scope.schemaUrl));
    }
    if (rm.resource.schemaUrl) w.string(3, rm.resource.schemaUrl, utf8(rm.resource.schemaUrl));
    if (w.pos !== w.bytes.length) throw new Error(`OTLP encoding wrote ${w.pos} bytes of ${w.bytes.length}`);
    return w.bytes;
  }

  #resource(resource: Resource): Buffer | undefined {
    let encoded = this.#resources.get(resource);
    if (encoded === undefined) {
      const attributes = resource.attributes ? encodeAttributes(resource.attributes, RESOURCE_ATTRIBUTES) : Buffer.alloc(0);
      if (attributes === undefined) return undefined;
      // dropped_attributes_count is always written, 0, as the official serializer does.
      encoded = Buffer.concat([attributes, Buffer.from([tag(2, VARINT), 0])]);
      this.#resources.set(resource, encoded);
    }
    return encoded;
  }

  /** The encoded attributes of a point, from the cache or encoded now. */
  #attributes(attributes: Attributes): Buffer | undefined {
    let encoded = this.#points.get(attributes);
    if (encoded === undefined) {
      encoded = encodeAttributes(attributes, NUMBER_POINT_ATTRIBUTES);
      if (encoded === undefined) return undefined;
      this.#points.set(attributes, encoded);
    }
    return encoded;
  }

  /** Each data point's NumberDataPoint size and attributes, or undefined for a metric that is not a sum of numbers this encoder writes. */
  #encodePoints(m: MetricData): EncodedPoints | undefined {
    if (m.dataPointType !== DataPointType.SUM) return undefined;
    const points = m.dataPoints;
    const sizes: number[] = new Array(points.length);
    const attributes: (Buffer | undefined)[] = new Array(points.length);
    for (let i = 0; i < points.length; i++) {
      const p = points[i]!;
      if (typeof p.value !== 'number') return undefined;
      let encoded: Buffer | undefined;
      if (p.attributes) {
        encoded = this.#attributes(p.attributes);
        if (encoded === undefined) return undefined;
      }
      sizes[i] = POINT_FIXED_BYTES + (encoded === undefined ? 0 : encoded.length);
      attributes[i] = encoded;
    }
    return { sizes, attributes };
  }
}

/** A metric's data points as sized for the request: each NumberDataPoint's size and its encoded attributes. */
interface EncodedPoints {
  sizes: number[];
  attributes: (Buffer | undefined)[];
}

/**
 * Writes the Metric message (a sum). Plain loops and no allocation per point: this runs once
 * per export interval, often before V8 has optimized it.
 */
function writeMetric(w: Writer, m: MetricData, size: number, encoded: EncodedPoints, times: { start: number[]; end: number[] }): void {
  const { name, description, unit, valueType } = m.descriptor;
  w.open(2, size);
  w.string(1, name, utf8(name));
  if (description) w.string(2, description, utf8(description));
  if (unit) w.string(3, unit, utf8(unit));
  if (m.dataPointType !== DataPointType.SUM) throw new Error('not a sum');
  const { sizes, attributes } = encoded;
  w.open(7, sumSize(m, sizes));
  const points = m.dataPoints;
  const int = valueType === ValueType.INT;
  for (let i = 0; i < points.length; i++) {
    const p = points[i]!;
    w.open(1, sizes[i]!);
    w.byte(tag(2, I64));
    w.hrTime(p.startTime, times.start);
    w.byte(tag(3, I64));
    w.hrTime(p.endTime, times.end);
    if (int) {
      w.byte(tag(6, I64));
      w.sfixed64(p.value as number);
    } else {
      w.byte(tag(4, I64));
      w.double(p.value as number);
    }
    const a = attributes[i];
    if (a !== undefined) w.copy(a);
  }
  const temporality = protoTemporality(m.aggregationTemporality);
  if (temporality !== 0) {
    w.byte(tag(2, VARINT));
    w.byte(temporality);
  }
  if (m.isMonotonic) {
    w.byte(tag(3, VARINT));
    w.byte(1);
  }
}

function protoTemporality(t: AggregationTemporality): number {
  return t === AggregationTemporality.DELTA ? 1 : t === AggregationTemporality.CUMULATIVE ? 2 : 0;
}

/** The Sum message's size: its data points, temporality and monotonicity. */
function sumSize(m: MetricData, pointSizes: number[]): number {
  let size = 0;
  for (let i = 0; i < pointSizes.length; i++) size += fieldSize(pointSizes[i]!);
  if (protoTemporality(m.aggregationTemporality) !== 0) size += 2;
  if (m.dataPointType === DataPointType.SUM && m.isMonotonic) size += 2;
  return size;
}

/** The Metric message's size: name, description, unit and its Sum. */
function metricSize(m: MetricData, pointSizes: number[]): number {
  const { name, description, unit } = m.descriptor;
  let size = fieldSize(utf8(name)) + fieldSize(sumSize(m, pointSizes));
  if (description) size += fieldSize(utf8(description));
  if (unit) size += fieldSize(utf8(unit));
  return size;
}

/** The InstrumentationScope message: name (always), version, attributes, dropped_attributes_count, as the official serializer writes it. */
function encodeScope(scope: ResourceMetrics['scopeMetrics'][number]['scope'] & { attributes?: Attributes; droppedAttributesCount?: number }): Buffer | undefined {
  const attributes = scope.attributes ? encodeAttributes(scope.attributes, SCOPE_ATTRIBUTES) : undefined;
  if (scope.attributes && attributes === undefined) return undefined;
  const name = utf8(scope.name);
  const version = utf8(scope.version);
  const dropped = scope.droppedAttributesCount ?? 0;
  const w = new Writer(fieldSize(name) + (scope.version ? fieldSize(version) : 0) + (attributes?.length ?? 0) + (dropped ? 1 + varintSize(dropped) : 0));
  w.string(1, scope.name, name);
  if (scope.version) w.string(2, scope.version, version);
  if (attributes) w.copy(attributes);
  if (dropped) {
    w.byte(tag(4, VARINT));
    w.varint(dropped);
  }
  return w.bytes;
}
