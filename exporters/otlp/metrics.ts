/**
 * The flow encoding of the data model (pipeline/README.md "Data model") as the SDK's ResourceMetrics, so
 * the official OTLP exporter serializes it: monotonic sums (cumulative or
 * delta, store.ts says what each carries) `zonetap.network.flow.bytes`,
 * `.packets` and (when the cost processor ran) `.cost_usd`, one data point per flow series.
 */
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import { ValueType, type HrTime } from '@opentelemetry/api';
import { resourceFromAttributes, type Resource } from '@opentelemetry/resources';
import { AggregationTemporality, DataPointType, type DataPoint, type ResourceMetrics, type SumMetricData } from '@opentelemetry/sdk-metrics';
import type { FlowPoint, Temporality } from './store.ts';

export const BYTES_METRIC = 'zonetap.network.flow.bytes';
export const PACKETS_METRIC = 'zonetap.network.flow.packets';
export const COST_METRIC = 'zonetap.network.flow.cost_usd';
export const SCOPE = { name: 'zonetap/exporters/otlp', version: '0.1.0' } as const;

/**
 * service.name=zonetap, a service.instance.id, the host and (on agents) the
 * node name. The gateway tells agents' streams apart by the instance id: one
 * per exporter instance (hence per process), so two otlp exporters of one
 * process never mix their totals, and a restarted agent is a new stream.
 */
export function agentResource(instanceId: string = randomUUID()): Resource {
  const attributes: Record<string, string> = {
    'service.name': 'zonetap',
    'service.instance.id': instanceId,
    'host.name': hostname(),
  };
  if (process.env.NODE_NAME) attributes['k8s.node.name'] = process.env.NODE_NAME;
  return resourceFromAttributes(attributes);
}

function msToHrTime(ms: number): HrTime {
  const seconds = Math.floor(ms / 1000);
  return [seconds, Math.round((ms - seconds * 1000) * 1e6)];
}

function sum(name: string, description: string, unit: string, valueType: ValueType, temporality: AggregationTemporality, dataPoints: DataPoint<number>[]): SumMetricData {
  return {
    descriptor: { name, description, unit, valueType },
    aggregationTemporality: temporality,
    dataPointType: DataPointType.SUM,
    isMonotonic: true,
    dataPoints,
  };
}

/** The points as sums ending at `nowMs`, values copied (later changes do not leak in). */
export function flowResourceMetrics(resource: Resource, series: readonly FlowPoint[], nowMs: number, temporality: Temporality = 'cumulative'): ResourceMetrics {
  const t = temporality === 'delta' ? AggregationTemporality.DELTA : AggregationTemporality.CUMULATIVE;
  const endTime = msToHrTime(nowMs);
  const bytes: DataPoint<number>[] = [];
  const packets: DataPoint<number>[] = [];
  const cost: DataPoint<number>[] = [];
  for (const s of series) {
    const startTime = msToHrTime(s.startTime);
    bytes.push({ startTime, endTime, attributes: s.attributes, value: s.bytes });
    packets.push({ startTime, endTime, attributes: s.attributes, value: s.packets });
    if (s.costUsd !== undefined) cost.push({ startTime, endTime, attributes: s.attributes, value: s.costUsd });
  }
  const metrics: SumMetricData[] = [
    sum(BYTES_METRIC, 'IP bytes sent by flows, headers included', 'By', ValueType.INT, t, bytes),
    sum(PACKETS_METRIC, 'IP packets sent by flows', '{packet}', ValueType.INT, t, packets),
  ];
  // `{USD}`: UCUM has no currency; an annotation is dropped by the OTLP-to-Prometheus translation, which
  // would turn a unit `USD` into zonetap_network_flow_cost_usd_USD_total (exporters/otlp/README.md).
  if (cost.length > 0) metrics.push(sum(COST_METRIC, 'Cost of the transferred bytes, in US dollars', '{USD}', ValueType.DOUBLE, t, cost));
  return { resource, scopeMetrics: [{ scope: SCOPE, metrics }] };
}
