/**
 * The otlp exporter over OTLP/HTTP against an implementation that is not
 * zonetap's: a plain node:http server that decodes what it is sent with
 * protobufjs' generic reflection over the OTLP metrics schema (declared
 * below from opentelemetry-proto's metrics_service.proto, metrics.proto,
 * common.proto and resource.proto; not the receiver's decoder) or with
 * JSON.parse, and answers what each test scripts. The tests assert on the
 * decoded content and on the acknowledgement semantics: a window stays open
 * until a 2xx answer, a partial success acknowledges, 429/503 with
 * Retry-After are retried by the official exporter within its timeout.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import { gunzipSync } from 'node:zlib';
import protobuf from 'protobufjs';
import { contextWithTimeout } from '../../pipeline/lifecycle.ts';
import type { FlowRecord } from '../../pipeline/flow.ts';
import { recordAttributes } from '../../pipeline/attributes.ts';
import { testSettings } from '../../test/support/components.ts';
import { otlpExporterFactory, type OtlpExporter } from './index.ts';

const OTLP_METRICS = `
syntax = "proto3";
package opentelemetry.proto;
message ExportMetricsServiceRequest { repeated ResourceMetrics resource_metrics = 1; }
message ExportMetricsServiceResponse { ExportMetricsPartialSuccess partial_success = 1; }
message ExportMetricsPartialSuccess { int64 rejected_data_points = 1; string error_message = 2; }
message ResourceMetrics { Resource resource = 1; repeated ScopeMetrics scope_metrics = 2; string schema_url = 3; }
message Resource { repeated KeyValue attributes = 1; uint32 dropped_attributes_count = 2; }
message ScopeMetrics { InstrumentationScope scope = 1; repeated Metric metrics = 2; string schema_url = 3; }
message InstrumentationScope { string name = 1; string version = 2; repeated KeyValue attributes = 3; uint32 dropped_attributes_count = 4; }
message Metric {
  string name = 1; string description = 2; string unit = 3;
  oneof data { Gauge gauge = 5; Sum sum = 7; }
  repeated KeyValue metadata = 12;
}
message Gauge { repeated NumberDataPoint data_points = 1; }
enum AggregationTemporality { AGGREGATION_TEMPORALITY_UNSPECIFIED = 0; AGGREGATION_TEMPORALITY_DELTA = 1; AGGREGATION_TEMPORALITY_CUMULATIVE = 2; }
message Sum { repeated NumberDataPoint data_points = 1; AggregationTemporality aggregation_temporality = 2; bool is_monotonic = 3; }
message NumberDataPoint {
  repeated KeyValue attributes = 7;
  fixed64 start_time_unix_nano = 2;
  fixed64 time_unix_nano = 3;
  oneof value { double as_double = 4; sfixed64 as_int = 6; }
  uint32 flags = 8;
}
message KeyValue { string key = 1; AnyValue value = 2; }
message AnyValue { oneof value { string string_value = 1; bool bool_value = 2; int64 int_value = 3; double double_value = 4; } }
`;
const root = protobuf.parse(OTLP_METRICS).root;
const Request = root.lookupType('opentelemetry.proto.ExportMetricsServiceRequest');
const Response = root.lookupType('opentelemetry.proto.ExportMetricsServiceResponse');

/** A data point as this test reads it, whatever the encoding. */
interface Point {
  metric: string;
  unit: string;
  temporality: number;
  monotonic: boolean;
  attributes: Record<string, string | number | boolean>;
  startNs: bigint;
  timeNs: bigint;
  value: number;
}

interface Received {
  headers: IncomingHttpHeaders;
  path: string;
  resource: Record<string, string | number | boolean>;
  scope: string;
  points: Point[];
}

type AnyValueObject = { stringValue?: string; boolValue?: boolean; intValue?: string | number; doubleValue?: number };
type KeyValueObject = { key: string; value?: AnyValueObject };

function attributesOf(list: KeyValueObject[] | undefined): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  for (const kv of list ?? []) {
    const v = kv.value ?? {};
    out[kv.key] = v.stringValue ?? v.boolValue ?? (v.intValue !== undefined ? Number(v.intValue) : v.doubleValue!);
  }
  return out;
}

/** The request as plain objects: protobuf through the reflection decoder (longs as strings, enums as numbers), or JSON as sent. */
function readRequest(body: Buffer, contentType: string): Pick<Received, 'resource' | 'scope' | 'points'> {
  type Req = { resourceMetrics: { resource?: { attributes?: KeyValueObject[] }; scopeMetrics: { scope?: { name?: string }; metrics: { name: string; unit: string; sum?: { aggregationTemporality?: number; isMonotonic?: boolean; dataPoints: (Record<string, unknown> & { attributes?: KeyValueObject[] })[] } }[] }[] }[] };
  const request = (contentType === 'application/json' ? JSON.parse(body.toString()) : Request.toObject(Request.decode(body), { longs: String, enums: Number, arrays: true })) as Req;
  assert.equal(request.resourceMetrics.length, 1, 'one resource: the agent');
  const [rm] = request.resourceMetrics;
  assert.equal(rm!.scopeMetrics.length, 1);
  const points: Point[] = [];
  for (const m of rm!.scopeMetrics[0]!.metrics) {
    assert.ok(m.sum, `${m.name} is a sum`);
    for (const p of m.sum.dataPoints) {
      points.push({
        metric: m.name,
        unit: m.unit,
        temporality: m.sum.aggregationTemporality ?? 0,
        monotonic: m.sum.isMonotonic ?? false,
        attributes: attributesOf(p.attributes),
        startNs: BigInt(p.startTimeUnixNano as string | number),
        timeNs: BigInt(p.timeUnixNano as string | number),
        value: p.asInt !== undefined ? Number(p.asInt) : (p.asDouble as number),
      });
    }
  }
  return { resource: attributesOf(rm!.resource?.attributes), scope: rm!.scopeMetrics[0]!.scope?.name ?? '', points };
}

/** The independent OTLP/HTTP backend: decodes and keeps every request, answers as scripted (200 with an empty response otherwise). */
class Backend {
  readonly received: Received[] = [];
  readonly answers: { status: number; headers?: Record<string, string>; body?: Buffer }[] = [];
  readonly #server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      const body = req.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw;
      const contentType = req.headers['content-type'] ?? '';
      this.received.push({ headers: req.headers, path: req.url ?? '', ...readRequest(body, contentType) });
      const answer = this.answers.shift() ?? { status: 200 };
      res.writeHead(answer.status, { 'content-type': contentType, ...answer.headers });
      res.end(answer.body ?? (contentType === 'application/json' ? Buffer.from('{}') : Buffer.alloc(0)));
    });
  });
  port = 0;

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    this.port = (this.#server.address() as { port: number }).port;
    return this;
  }

  stop(): Promise<void> {
    this.#server.closeAllConnections();
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }

  /** Bytes per flow source over every request received. */
  bytesBySource(): Map<string, number> {
    const out = new Map<string, number>();
    for (const r of this.received) for (const p of r.points) if (p.metric === 'zonetap.network.flow.bytes') out.set(String(p.attributes['src.address']), (out.get(String(p.attributes['src.address'])) ?? 0) + p.value);
    return out;
  }
}

const cleanups: (() => Promise<void> | void)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

async function setUp(config: Record<string, unknown>): Promise<{ backend: Backend; exporter: OtlpExporter }> {
  const backend = await new Backend().start();
  cleanups.push(() => backend.stop());
  const exporter = otlpExporterFactory.create(
    testSettings('otlp', 'exporter'),
    otlpExporterFactory.configSchema.parse({ endpoint: `http://127.0.0.1:${backend.port}`, interval: '1h', temporality: 'delta', timeout: '5s', ...config }),
  ) as OtlpExporter;
  await exporter.start();
  cleanups.push(() => exporter.shutdown(contextWithTimeout(5000)));
  return { backend, exporter };
}

function flow(i: number, bytes: number, packets: number, costUsd?: number): FlowRecord {
  return {
    src: { address: `10.1.0.${i}`, port: 40000 + i, namespace: 'shop', pod: `api-${i}`, workloadKind: 'Deployment', workloadName: 'api', zone: 'zone-a' },
    dst: { address: '10.2.0.7', port: 5432, namespace: 'db', pod: 'pg-0', zone: 'zone-b' },
    transport: 'tcp',
    ipFamily: 'ipv4',
    bytes,
    packets,
    trafficClass: 'cross_zone',
    ...(costUsd === undefined ? {} : { costUsd }),
  };
}

const batch = (records: FlowRecord[]) => ({ start: Date.now() - 1000, end: Date.now(), records });

describe('otlp exporter over HTTP, against an independent OTLP/HTTP backend', () => {
  for (const protocol of ['http/protobuf', 'http/json'] as const) {
    test(`${protocol}: POST /v1/metrics with the media type, gzip, headers; every point decodes to what was counted`, async () => {
      const { backend, exporter } = await setUp({ protocol, headers: { authorization: 'Bearer abc' } });
      const before = BigInt(Date.now()) * 1_000_000n;
      await exporter.consume(batch([flow(1, 1500, 3, 0.5), flow(2, 700, 2, 0.25)]));
      assert.equal(await exporter.exportNow(), true);
      const after = BigInt(Date.now()) * 1_000_000n;
      assert.equal(backend.received.length, 1);
      const [r] = backend.received;
      assert.equal(r!.path, '/v1/metrics');
      assert.equal(r!.headers['content-type'], protocol === 'http/json' ? 'application/json' : 'application/x-protobuf');
      assert.equal(r!.headers['content-encoding'], 'gzip');
      assert.equal(r!.headers.authorization, 'Bearer abc');
      assert.equal(r!.resource['service.name'], 'zonetap');
      assert.match(String(r!.resource['service.instance.id']), /^[0-9a-f-]{36}$/);
      assert.equal(r!.scope, 'zonetap/exporters/otlp');
      const by = (metric: string, src: string) => r!.points.find((p) => p.metric === metric && p.attributes['src.address'] === src)!;
      for (const [metric, unit, values] of [
        ['zonetap.network.flow.bytes', 'By', [1500, 700]],
        ['zonetap.network.flow.packets', '{packet}', [3, 2]],
        ['zonetap.network.flow.cost_usd', '{USD}', [0.5, 0.25]],
      ] as const) {
        for (const [i, value] of values.entries()) {
          const p = by(metric, `10.1.0.${i + 1}`);
          assert.deepEqual({ unit: p.unit, temporality: p.temporality, monotonic: p.monotonic, value: p.value }, { unit, temporality: 1, monotonic: true, value }, metric);
          assert.deepEqual(p.attributes, recordAttributes(flow(i + 1, 0, 0)), 'every attribute, under its wire name');
          assert.ok(p.startNs <= p.timeNs && p.timeNs >= before - 1_000_000n && p.timeNs <= after + 1_000_000n, 'times in nanoseconds, the export time last');
        }
      }
      assert.equal(r!.points.length, 6);
    });
  }

  test('a window stays open until a 2xx answer: after a 500 the same window (same start, later time, grown value) is sent again; a partial success acknowledges', async () => {
    const { backend, exporter } = await setUp({ protocol: 'http/protobuf' });
    await exporter.consume(batch([flow(1, 100, 1)]));
    assert.equal(await exporter.exportNow(), true);
    await exporter.consume(batch([flow(1, 50, 1)]));
    backend.answers.push({ status: 500 });
    assert.equal(await exporter.exportNow(), false, 'a 500 is not an acknowledgement (and not retried: OTLP/HTTP says so)');
    await exporter.consume(batch([flow(1, 25, 1)]));
    backend.answers.push({ status: 200, body: Buffer.from(Response.encode({ partialSuccess: { rejectedDataPoints: 1, errorMessage: 'one refused' } }).finish()) });
    assert.equal(await exporter.exportNow(), true, 'a partial success is a success');
    await exporter.consume(batch([flow(1, 5, 1)]));
    assert.equal(await exporter.exportNow(), true);
    const bytes = backend.received.map((r) => r.points.find((p) => p.metric === 'zonetap.network.flow.bytes')!);
    assert.deepEqual(bytes.map((p) => p.value), [100, 50, 75, 5], 'the refused window re-sent with what came since; then a new window');
    assert.equal(bytes[1]!.startNs, bytes[0]!.timeNs, 'the second window starts at the first, acknowledged, export');
    assert.equal(bytes[2]!.startNs, bytes[1]!.startNs, 'the re-sent window keeps its start');
    assert.ok(bytes[2]!.timeNs > bytes[1]!.timeNs);
    assert.equal(bytes[3]!.startNs, bytes[2]!.timeNs, 'the partial success closed the window');
  });

  test('429 and 503 with Retry-After: the official exporter waits and retries within its timeout; one export, delivered once', async () => {
    const { backend, exporter } = await setUp({ protocol: 'http/json' });
    backend.answers.push({ status: 429, headers: { 'retry-after': '0' } }, { status: 503, headers: { 'retry-after': '1' } });
    await exporter.consume(batch([flow(3, 999, 9)]));
    assert.equal(await exporter.exportNow(), true);
    assert.equal(backend.received.length, 3, 'refused twice, accepted the third time');
    assert.deepEqual(backend.received.map((r) => r.points.find((p) => p.metric === 'zonetap.network.flow.bytes')!.value), [999, 999, 999]);
    await exporter.consume(batch([flow(3, 1, 1)]));
    assert.equal(await exporter.exportNow(), true);
    assert.equal(backend.received.at(-1)!.points.find((p) => p.metric === 'zonetap.network.flow.bytes')!.value, 1, 'acknowledged once: the next window holds only what came since');
  });
});
