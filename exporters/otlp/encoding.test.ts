/**
 * encoding.ts writes exactly the bytes of the official ProtobufMetricsSerializer
 * (@opentelemetry/otlp-transformer), for the exporter's requests and for the
 * corner cases of the encoding (multi-byte lengths, non-ASCII strings, every
 * attribute value type, nanosecond times), on the first export of a series and
 * from its cache afterwards; what it does not write, it hands to the official
 * serializer.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ValueType } from '@opentelemetry/api';
import { ProtobufMetricsSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { AggregationTemporality, DataPointType, type ResourceMetrics } from '@opentelemetry/sdk-metrics';
import type { FlowRecord } from '../../pipeline/flow.ts';
import { FlowMetricsSerializer } from './encoding.ts';
import { agentResource, flowResourceMetrics } from './metrics.ts';
import { FlowTotals } from './store.ts';

function flow(i: number, bytes: number, costUsd?: number): FlowRecord {
  return {
    src: { address: `10.1.${i >> 8}.${i & 255}`, port: 30000 + i, namespace: 'shop', pod: `api-${i}-7d9f8b6c5-x2k4q`, workloadKind: 'Deployment', workloadName: 'api', node: `node-${i % 7}`, zone: 'zone-a', region: 'europe-west1' },
    dst: { address: `2001:db8::${i.toString(16)}`, port: 5432, namespace: 'db', pod: `pg-${i % 3}`, workloadKind: 'StatefulSet', workloadName: 'pg', zone: 'zone-b', hostNetwork: i % 2 === 0 },
    transport: i % 5 === 0 ? 'udp' : 'tcp',
    ipFamily: 'ipv6',
    bytes,
    packets: Math.ceil(bytes / 1400),
    trafficClass: 'cross_zone',
    ...(costUsd === undefined ? {} : { costUsd }),
  };
}

const official = (rm: ResourceMetrics) => Buffer.from(ProtobufMetricsSerializer.serializeRequest(rm)!);

function assertSameBytes(serializer: FlowMetricsSerializer, rm: ResourceMetrics, what: string): void {
  const ours = serializer.serializeRequest(rm)!;
  assert.ok(Buffer.from(ours).equals(official(rm)), `${what}: ${ours.length} bytes, the official serializer ${official(rm).length}`);
}

describe('OTLP protobuf encoding with per-series attribute caching', () => {
  test('the exporter\'s requests: byte for byte the official encoding, first export and from the cache, delta and cumulative', () => {
    const serializer = new FlowMetricsSerializer();
    const totals = new FlowTotals({ ttlMs: 3_600_000, maxSeries: 180 });
    const resource = agentResource('6f1c1e9e-4a43-4f9b-8d0c-1a2b3c4d5e6f');
    // More series than max_series: the last ones fold into the overflow series (a boolean attribute).
    totals.add({ start: 0, end: 1, records: Array.from({ length: 200 }, (_, i) => flow(i, 1000 + i * 997, i % 3 === 0 ? i / 7 : undefined)) });
    let now = Date.UTC(2026, 11, 2, 4, 5, 6) + 0.123456;
    for (const temporality of ['cumulative', 'delta'] as const) {
      for (let round = 0; round < 3; round++) {
        const points = totals.snapshot(temporality);
        if (temporality === 'cumulative' && round === 0) assert.ok(points.some((p) => 'otel.metric.overflow' in p.attributes), 'the overflow series is exported');
        assertSameBytes(serializer, flowResourceMetrics(resource, points, (now += 10_000.5), temporality), `${temporality}, export ${round + 1}`);
        totals.acknowledge(points, now);
        totals.add({ start: 0, end: 1, records: Array.from({ length: 50 }, (_, i) => flow(i * 3, 1500 * (round + 1), i % 2 ? 0.01 : undefined)) });
      }
    }
  });

  test('corner cases: long and non-ASCII strings, every attribute value type, large and negative values, schema URLs, scope attributes', () => {
    const serializer = new FlowMetricsSerializer();
    const attributes = [
      { 'k8s.src.name': 'p'.repeat(300), 'k8s.src.namespace': 'café-ünïcode-名前-🚀', port: 443 },
      { flag: true, off: false, zero: 0, negative: -5, big: 2 ** 40, huge: 2 ** 63, ratio: 0.25, nan: Number.NaN, '': '' },
      {},
    ];
    const rm: ResourceMetrics = {
      resource: resourceFromAttributes({ 'service.name': 'zonetap', 'host.name': 'nœud-1', pid: 4242, debug: true }, { schemaUrl: 'https://opentelemetry.io/schemas/1.24.0' }),
      scopeMetrics: [
        { scope: { name: 'a', version: '', schemaUrl: 'https://example.com/s' }, metrics: [] },
        {
          scope: { name: '', attributes: { 'scope.attr': 'x' }, droppedAttributesCount: 3 } as ResourceMetrics['scopeMetrics'][number]['scope'],
          metrics: [
            {
              descriptor: { name: 'ints', description: '', unit: '', valueType: ValueType.INT },
              aggregationTemporality: AggregationTemporality.CUMULATIVE,
              dataPointType: DataPointType.SUM,
              isMonotonic: false,
              dataPoints: attributes.map((a, i) => ({ startTime: [0, 0], endTime: [1_764_650_000 + i, 999_999_999], attributes: a, value: [0, -17, 2 ** 53 - 1][i]! })),
            },
            {
              descriptor: { name: 'doubles', description: 'd'.repeat(200), unit: '{USD}', valueType: ValueType.DOUBLE },
              aggregationTemporality: AggregationTemporality.DELTA,
              dataPointType: DataPointType.SUM,
              isMonotonic: true,
              // Enough points that the Sum's and the ResourceMetrics' lengths take three varint bytes.
              dataPoints: Array.from({ length: 600 }, (_, i) => ({ startTime: [4_000_000_000, i], endTime: [4_000_000_010, 5], attributes: attributes[i % 3]!, value: i / 3 })),
            },
          ],
        },
      ],
    };
    assertSameBytes(serializer, rm, 'first');
    assertSameBytes(serializer, rm, 'from the cache');
  });

  test('what it does not write (a histogram, an array attribute) goes to the official serializer whole', () => {
    const serializer = new FlowMetricsSerializer();
    const resource = resourceFromAttributes({ 'service.name': 'zonetap' });
    const sum = { descriptor: { name: 's', description: '', unit: '', valueType: ValueType.INT }, aggregationTemporality: AggregationTemporality.DELTA, dataPointType: DataPointType.SUM, isMonotonic: true } as const;
    const histogram: ResourceMetrics = {
      resource,
      scopeMetrics: [{
        scope: { name: 'x' },
        metrics: [
          { ...sum, dataPoints: [{ startTime: [1, 0], endTime: [2, 0], attributes: { a: 'b' }, value: 3 }] },
          {
            descriptor: { name: 'h', description: '', unit: 's', valueType: ValueType.DOUBLE },
            aggregationTemporality: AggregationTemporality.CUMULATIVE,
            dataPointType: DataPointType.HISTOGRAM,
            dataPoints: [{ startTime: [1, 0], endTime: [2, 0], attributes: {}, value: { buckets: { boundaries: [1], counts: [1, 0] }, count: 1, sum: 0.5, min: 0.5, max: 0.5 } }],
          },
        ],
      }],
    };
    assertSameBytes(serializer, histogram, 'histogram');
    const array: ResourceMetrics = { resource, scopeMetrics: [{ scope: { name: 'x' }, metrics: [{ ...sum, dataPoints: [{ startTime: [1, 0], endTime: [2, 0], attributes: { list: ['a', 'b'] }, value: 3 }] }] }] };
    assertSameBytes(serializer, array, 'array attribute');
  });

  test('responses are read by the official deserializer', () => {
    const serializer = new FlowMetricsSerializer();
    // partial_success { rejected_data_points: 2, error_message: "no" }
    const response = Uint8Array.from([0x0a, 0x06, 0x08, 0x02, 0x12, 0x02, 0x6e, 0x6f]);
    assert.deepEqual(serializer.deserializeResponse(response), ProtobufMetricsSerializer.deserializeResponse(response));
    assert.equal(serializer.deserializeResponse(response).partialSuccess?.rejectedDataPoints, 2);
  });
});
