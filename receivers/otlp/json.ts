/**
 * OTLP/JSON (the OTLP/HTTP `application/json` encoding) read into the same
 * request the protobuf path decodes: the JSON is taken by protobufjs'
 * fromObject against the full metrics schema below, which follows the
 * protobuf JSON mapping as OTLP restricts it (lowerCamelCase field names;
 * 64-bit integers as decimal strings or numbers; enums as integers, their
 * names accepted too; bytes as base64; unknown fields ignored), then encoded
 * to protobuf and decoded by proto.ts. So a JSON sender goes through exactly
 * the decoding, limits and accounting of a protobuf one (its stream key is
 * the protobuf encoding of its attributes).
 *
 * The schema is proto.ts's declarations (from opentelemetry-proto) with the
 * Sum as a message and the temporality as its enum. Points of metric types zonetap does not read are kept as empty
 * messages, only to be counted (their fields are dropped).
 */
import protobuf from 'protobufjs';
import { decodeRequest, SHARED_DECLARATIONS, type ExportMetricsServiceRequest } from './proto.ts';

const SCHEMA = `
syntax = "proto3";
package zonetap.otlp.json;
${SHARED_DECLARATIONS}
message Metric {
  string name = 1;
  string description = 2;
  string unit = 3;
  oneof data {
    OtherPoints gauge = 5;
    Sum sum = 7;
    OtherPoints histogram = 9;
    OtherPoints exponential_histogram = 10;
    OtherPoints summary = 11;
  }
}
message OtherPoints { repeated OtherPoint data_points = 1; }
message OtherPoint {}

enum AggregationTemporality {
  AGGREGATION_TEMPORALITY_UNSPECIFIED = 0;
  AGGREGATION_TEMPORALITY_DELTA = 1;
  AGGREGATION_TEMPORALITY_CUMULATIVE = 2;
}
message Sum {
  repeated NumberDataPoint data_points = 1;
  AggregationTemporality aggregation_temporality = 2;
  bool is_monotonic = 3;
}
`;

const requestType = protobuf.parse(SCHEMA, { keepCase: false }).root.lookupType('zonetap.otlp.json.ExportMetricsServiceRequest');

/** 64-bit integers in OTLP/JSON: a decimal string or a number (an integer, as the mapping requires). */
const INT64_TEXT = /^-?\d{1,20}$/;

/**
 * Reads an OTLP/JSON ExportMetricsServiceRequest; throws, saying what was
 * wrong, on text that is not JSON or not a request.
 */
export function decodeJsonRequest(text: string): ExportMetricsServiceRequest {
  const value: unknown = JSON.parse(text);
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new TypeError('expected a JSON object (an ExportMetricsServiceRequest)');
  checkInt64Strings(value);
  const message = requestType.fromObject(value as Record<string, unknown>);
  return decodeRequest(requestType.encode(message).finish());
}

const INT64_KEYS = new Set(['startTimeUnixNano', 'timeUnixNano', 'asInt', 'intValue']);

/**
 * 64-bit integer fields given as strings must be decimal integers:
 * protobufjs would read "abc" as 0 and "12x" as 12, silent changes of
 * meaning. One pass over the parsed request, without recursion (a JSON.parse
 * reviver would do the same at four times the cost of the parse).
 */
function checkInt64Strings(root: object): void {
  const stack: Record<string, unknown>[] = [root as Record<string, unknown>];
  for (let node = stack.pop(); node !== undefined; node = stack.pop()) {
    for (const key in node) {
      const v = node[key];
      if (typeof v === 'object' && v !== null) stack.push(v as Record<string, unknown>);
      else if (typeof v === 'string' && INT64_KEYS.has(key) && !INT64_TEXT.test(v)) throw new TypeError(`${key}: "${v.slice(0, 40)}" is not a decimal integer`);
    }
  }
}
