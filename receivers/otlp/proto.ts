/**
 * The parts of the OTLP metrics protobuf schema the gateway reads, declared
 * from opentelemetry-proto (collector/metrics/v1/metrics_service.proto,
 * metrics/v1/metrics.proto, common/v1/common.proto, resource/v1/resource.proto;
 * field numbers are the schema's). Undeclared fields (exemplars, ...) are
 * skipped by the decoder; points of metric types zonetap does not send are
 * kept as raw bytes, only to be counted.
 *
 * One deliberate liberty, for speed (the gateway reads every point of every
 * agent): Metric.sum is declared as `bytes`, the same wire encoding as the
 * Sum message, and read by points.ts with protobufjs' Reader without
 * allocating per point. The raw bytes of a point's attribute list are its
 * stream key, so a known stream is matched without decoding its ~20
 * attributes; KeyValues are decoded (PointAttributes below, the attribute
 * field of NumberDataPoint alone) only for streams seen for the first time.
 */
import protobuf from 'protobufjs';
import type Long from 'long';

/**
 * The messages both decoders (this one and json.ts's) declare alike: the
 * request down to the resource, scope and metric lists, number points and
 * attribute values. Each adds its own Metric (and Sum).
 */
export const SHARED_DECLARATIONS = `
message ExportMetricsServiceRequest { repeated ResourceMetrics resource_metrics = 1; }
message ResourceMetrics { Resource resource = 1; repeated ScopeMetrics scope_metrics = 2; string schema_url = 3; }
message Resource { repeated KeyValue attributes = 1; uint32 dropped_attributes_count = 2; }
message ScopeMetrics { InstrumentationScope scope = 1; repeated Metric metrics = 2; string schema_url = 3; }
message InstrumentationScope { string name = 1; string version = 2; repeated KeyValue attributes = 3; uint32 dropped_attributes_count = 4; }
message NumberDataPoint {
  repeated KeyValue attributes = 7;
  fixed64 start_time_unix_nano = 2;
  fixed64 time_unix_nano = 3;
  oneof value { double as_double = 4; sfixed64 as_int = 6; }
  uint32 flags = 8;
}
message KeyValue { string key = 1; AnyValue value = 2; }
message AnyValue {
  oneof value {
    string string_value = 1;
    bool bool_value = 2;
    int64 int_value = 3;
    double double_value = 4;
    ArrayValue array_value = 5;
    KeyValueList kvlist_value = 6;
    bytes bytes_value = 7;
  }
}
message ArrayValue { repeated AnyValue values = 1; }
message KeyValueList { repeated KeyValue values = 1; }
`;

const SCHEMA = `
syntax = "proto3";
package zonetap.otlp;
${SHARED_DECLARATIONS}
message ExportMetricsServiceResponse { ExportMetricsPartialSuccess partial_success = 1; }
message ExportMetricsPartialSuccess { int64 rejected_data_points = 1; string error_message = 2; }
// google.rpc.Status (googleapis google/rpc/status.proto, without details): OTLP/HTTP's error body.
message Status { int32 code = 1; string message = 2; }

message Metric {
  string name = 1;
  string description = 2;
  string unit = 3;
  oneof data {
    OtherPoints gauge = 5;
    bytes sum = 7;                     // message Sum below, read by points.ts
    OtherPoints histogram = 9;
    OtherPoints exponential_histogram = 10;
    OtherPoints summary = 11;
  }
}
// Metrics zonetap does not read: only their points are counted, left undecoded.
message OtherPoints { repeated bytes data_points = 1; }
message Sum {
  repeated NumberDataPoint data_points = 1;
  int32 aggregation_temporality = 2;   // enum AggregationTemporality: 1 DELTA, 2 CUMULATIVE
  bool is_monotonic = 3;
}

// NumberDataPoint with only its attributes declared: decodes a point's attribute list.
message PointAttributes { repeated KeyValue attributes = 7; }
`;

/** The gRPC method path of MetricsService/Export. */
export const EXPORT_PATH = '/opentelemetry.proto.collector.metrics.v1.MetricsService/Export';

export const AGGREGATION_TEMPORALITY_DELTA = 1;
export const AGGREGATION_TEMPORALITY_CUMULATIVE = 2;

/** 64-bit protobuf integers arrive as Long (protobufjs with the `long` package) or as plain numbers. */
export type Int64 = Long | number;

export interface KeyValue { key: string; value?: AnyValue | null }
export interface AnyValue {
  value?: 'stringValue' | 'boolValue' | 'intValue' | 'doubleValue' | 'arrayValue' | 'kvlistValue' | 'bytesValue';
  stringValue?: string;
  boolValue?: boolean;
  intValue?: Int64;
  doubleValue?: number;
  arrayValue?: { values: AnyValue[] };
  kvlistValue?: { values: KeyValue[] };
  bytesValue?: Uint8Array;
}
export interface Metric {
  name: string;
  unit: string;
  data?: 'gauge' | 'sum' | 'histogram' | 'exponentialHistogram' | 'summary';
  /** An encoded Sum message (see points.ts). */
  sum?: Uint8Array | null;
  gauge?: { dataPoints: Uint8Array[] } | null;
  histogram?: { dataPoints: Uint8Array[] } | null;
  exponentialHistogram?: { dataPoints: Uint8Array[] } | null;
  summary?: { dataPoints: Uint8Array[] } | null;
}
export interface ScopeMetrics { metrics: Metric[] }
export interface ResourceMetrics { resource?: { attributes: KeyValue[] } | null; scopeMetrics: ScopeMetrics[] }
export interface ExportMetricsServiceRequest { resourceMetrics: ResourceMetrics[] }

const root = protobuf.parse(SCHEMA, { keepCase: false }).root;
const requestType = root.lookupType('zonetap.otlp.ExportMetricsServiceRequest');
const pointAttributesType = root.lookupType('zonetap.otlp.PointAttributes');
const responseType = root.lookupType('zonetap.otlp.ExportMetricsServiceResponse');
const statusType = root.lookupType('zonetap.otlp.Status');

/** Decodes a request; throws (protobufjs errors) on malformed input. */
export function decodeRequest(bytes: Uint8Array): ExportMetricsServiceRequest {
  return requestType.decode(bytes) as unknown as ExportMetricsServiceRequest;
}


/** An empty ExportMetricsServiceResponse (full success) and one reporting rejected points. */
export const EMPTY_RESPONSE: Buffer = Buffer.alloc(0);
export function partialSuccessResponse(rejected: number, message: string): Buffer {
  return Buffer.from(responseType.encode({ partialSuccess: { rejectedDataPoints: rejected, errorMessage: message } }).finish());
}

/** A google.rpc.Status (gRPC's status codes: 3 INVALID_ARGUMENT, 14 UNAVAILABLE, ...), encoded. */
export function encodeStatus(code: number, message: string): Buffer {
  return Buffer.from(statusType.encode({ code, message }).finish());
}

/** A google.rpc.Status, decoded. */
export function decodeStatus(bytes: Uint8Array): { code: number; message: string } {
  const { code, message } = statusType.decode(bytes) as unknown as { code?: number; message?: string };
  return { code: code ?? 0, message: message ?? '' };
}

/** What a response says was rejected (0 and '' for a full success). */
export function decodeExportResponse(bytes: Uint8Array): { rejected: number; message: string } {
  const { partialSuccess } = responseType.decode(bytes) as unknown as { partialSuccess?: { rejectedDataPoints?: Int64; errorMessage?: string } };
  return { rejected: int64ToNumber(partialSuccess?.rejectedDataPoints), message: partialSuccess?.errorMessage ?? '' };
}

export function int64ToNumber(v: Int64 | null | undefined): number {
  if (v === undefined || v === null) return 0;
  return typeof v === 'number' ? v : v.toNumber();
}

/** Deepest nesting of array and map values read; deeper ones throw (zonetap sends none at all). */
const MAX_VALUE_DEPTH = 16;

/** A scalar attribute value as JavaScript; arrays, maps and bytes as JSON text (zonetap never sends them). */
export function anyValueToJs(v: AnyValue | null | undefined): string | number | boolean | undefined {
  if (v?.value === 'arrayValue' || v?.value === 'kvlistValue') return JSON.stringify(anyValueToJson(v, 0));
  return scalarToJs(v);
}

function scalarToJs(v: AnyValue | null | undefined): string | number | boolean | undefined {
  if (!v) return undefined;
  switch (v.value) {
    case 'stringValue': return v.stringValue;
    case 'boolValue': return v.boolValue;
    case 'intValue': return int64ToNumber(v.intValue);
    case 'doubleValue': return v.doubleValue;
    case 'bytesValue': return Buffer.from(v.bytesValue ?? []).toString('base64');
    default: return undefined;
  }
}

/** Arrays and maps as plain JavaScript, turned into text once (text in text would grow exponentially with depth). */
function anyValueToJson(v: AnyValue | null | undefined, depth: number): unknown {
  if (depth > MAX_VALUE_DEPTH) throw new RangeError(`attribute value nested more than ${MAX_VALUE_DEPTH} deep`);
  if (v?.value === 'arrayValue') return (v.arrayValue?.values ?? []).map((x) => anyValueToJson(x, depth + 1));
  if (v?.value === 'kvlistValue') return Object.fromEntries((v.kvlistValue?.values ?? []).map((kv) => [kv.key, anyValueToJson(kv.value, depth + 1)]));
  return scalarToJs(v);
}

/** The attribute list of an encoded NumberDataPoint; throws on malformed input. */
export function decodePointAttributeList(point: Uint8Array): KeyValue[] {
  return (pointAttributesType.decode(point) as unknown as { attributes: KeyValue[] }).attributes;
}

/** Attributes as a record of JavaScript values (a repeated key: the last one wins). */
export function keyValuesToRecord(attributes: readonly KeyValue[]): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  for (const kv of attributes) {
    const v = anyValueToJs(kv.value);
    if (v !== undefined) out[kv.key] = v;
  }
  return out;
}
