/**
 * Hands zonetap's flow stores to the OpenTelemetry Prometheus exporter as a
 * MetricProducer: every scrape renders what the stores hold at that moment,
 * so expired series are gone from the next scrape.
 */
import { ValueType, type Attributes, type HrTime } from '@opentelemetry/api';
import { emptyResource } from '@opentelemetry/resources';
import {
  AggregationTemporality,
  DataPointType,
  type CollectionResult,
  type DataPoint,
  type MetricProducer,
  type SumMetricData,
} from '@opentelemetry/sdk-metrics';
import type { FlowSeries, FlowStore } from '../series/index.ts';

/** One counter to render from a store. */
export interface CounterView {
  /** OpenTelemetry name; the Prometheus exporter turns `.` into `_` and appends `_total`. */
  name: string;
  description: string;
  store: FlowStore;
  /** The value of a series, or undefined to leave the series out (cost of a series that has none). */
  value(series: Readonly<FlowSeries>): number | undefined;
}

export class FlowMetricProducer implements MetricProducer {
  readonly #views: readonly CounterView[];
  readonly #now: () => number;
  readonly #beforeCollect: (now: number) => void;

  constructor(views: readonly CounterView[], now: () => number, beforeCollect: (now: number) => void) {
    this.#views = views;
    this.#now = now;
    this.#beforeCollect = beforeCollect;
  }

  async collect(): Promise<CollectionResult> {
    const now = this.#now();
    this.#beforeCollect(now);
    const endTime = toHrTime(now);
    const metrics: SumMetricData[] = [];
    for (const view of this.#views) {
      const dataPoints: DataPoint<number>[] = [];
      for (const series of view.store.series()) {
        const value = view.value(series);
        if (value === undefined) continue;
        dataPoints.push({ startTime: toHrTime(series.startTime), endTime, attributes: series.attributes as Attributes, value });
      }
      if (dataPoints.length === 0) continue;
      metrics.push({
        descriptor: { name: view.name, description: view.description, unit: '', valueType: ValueType.DOUBLE },
        aggregationTemporality: AggregationTemporality.CUMULATIVE,
        dataPointType: DataPointType.SUM,
        isMonotonic: true,
        dataPoints,
      });
    }
    return {
      resourceMetrics: { resource: emptyResource(), scopeMetrics: [{ scope: { name: 'zonetap/exporters/prometheus' }, metrics }] },
      errors: [],
    };
  }
}

function toHrTime(ms: number): HrTime {
  const seconds = Math.floor(ms / 1000);
  return [seconds, Math.round((ms - seconds * 1000) * 1e6)];
}
