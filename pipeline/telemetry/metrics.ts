/**
 * zonetap's own metrics: one MeterProvider read by a PrometheusExporter that
 * does not run its own server (pipeline/telemetry/server.ts serves it).
 * Components get meters from it through ComponentSettings.meter.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Attributes, Counter } from '@opentelemetry/api';
import { PrometheusExporter, PrometheusSerializer } from '@opentelemetry/exporter-prometheus';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { AggregationTemporality, InstrumentType, MeterProvider } from '@opentelemetry/sdk-metrics';
import type { ComponentKind } from '../component.ts';
import { ComponentMeter } from './component-meter.ts';
import { processMetrics } from './process-metrics.ts';

/**
 * Self-telemetry series are labelled by component (a handful per process) and by
 * what components choose for their own metrics; 2,000 (the SDK default) is
 * already far more than a sane config produces. Set explicitly so a component
 * that labels by something unbounded hits a known ceiling rather than a surprise.
 */
export const SELF_TELEMETRY_CARDINALITY_LIMIT = 2000;

/** Counters the service keeps for every component; names as exported to Prometheus. */
export const METRIC_NAMES = {
  recordsIn: 'zonetap_component_records_in_total',
  recordsOut: 'zonetap_component_records_out_total',
  recordsDropped: 'zonetap_component_records_dropped_total',
  exportFailed: 'zonetap_exporter_send_failed_total',
  uptime: 'zonetap_uptime_seconds',
  buildInfo: 'zonetap_build_info',
} as const;

/** Strips `_total`: the Prometheus exporter adds it to monotonic sums. */
const otelName = (prometheusName: string) => prometheusName.replace(/_total$/, '');

/**
 * The Prometheus exporter, except that observable gauges report only what
 * their callbacks observe at each scrape (delta temporality: for a gauge, the
 * last value of this collection). Cumulative, the SDK would repeat a gauge's
 * last value for ever after its callback went away, so a component removed
 * by a configuration reload would go on reporting its last state.
 */
class SelfTelemetryExporter extends PrometheusExporter {
  override selectAggregationTemporality(type: InstrumentType): AggregationTemporality {
    return type === InstrumentType.OBSERVABLE_GAUGE ? AggregationTemporality.DELTA : super.selectAggregationTemporality(type);
  }
}

export interface SelfTelemetryOptions {
  /** Serve the process metrics (process-metrics.ts) too. */
  processMetrics: boolean;
}

export class SelfTelemetry {
  readonly #provider: MeterProvider;
  readonly #exporter: SelfTelemetryExporter;
  /** As the exporter is configured: no otel_scope_* labels. */
  readonly #serializer = new PrometheusSerializer(undefined, false, undefined, false, true);
  readonly #process: ReturnType<typeof processMetrics> | undefined;
  readonly #recordsIn: Counter;
  readonly #recordsOut: Counter;
  readonly #recordsDropped: Counter;
  readonly #exportFailed: Counter;

  constructor(version: string, options: SelfTelemetryOptions = { processMetrics: true }) {
    const started = performance.now();
    this.#process = options.processMetrics ? processMetrics() : undefined;
    this.#exporter = new SelfTelemetryExporter({ preventServerStart: true, withoutScopeInfo: true });
    this.#provider = new MeterProvider({
      resource: resourceFromAttributes({ 'service.name': 'zonetap', 'service.version': version }),
      readers: [this.#exporter],
      views: [{ instrumentName: '*', aggregationCardinalityLimit: SELF_TELEMETRY_CARDINALITY_LIMIT }],
    });
    const meter = this.#provider.getMeter('zonetap');
    this.#recordsIn = meter.createCounter(otelName(METRIC_NAMES.recordsIn), { description: 'Flow records a processor or exporter was given.' });
    this.#recordsOut = meter.createCounter(otelName(METRIC_NAMES.recordsOut), { description: 'Flow records a receiver or processor passed on.' });
    this.#recordsDropped = meter.createCounter(otelName(METRIC_NAMES.recordsDropped), {
      description: 'Flow records lost because a processor or exporter failed to consume them.',
    });
    this.#exportFailed = meter.createCounter(otelName(METRIC_NAMES.exportFailed), { description: 'Batches an exporter failed to send.' });
    meter
      .createObservableGauge(METRIC_NAMES.uptime, { description: 'Seconds since zonetap started.', unit: 's' })
      .addCallback((r) => r.observe((performance.now() - started) / 1000));
    meter
      .createObservableGauge(METRIC_NAMES.buildInfo, { description: 'Always 1; labels say which zonetap and Node.js run.' })
      .addCallback((r) => r.observe(1, { version, node: process.version }));
  }

  /** The meter a component instance gets in its settings; close() it when the instance is retired. */
  meterFor(id: string): ComponentMeter {
    return new ComponentMeter(this.#provider.getMeter(`zonetap/${id}`));
  }

  /** Makes the component's series visible (at 0) before its first record. */
  register(id: string, kind: ComponentKind): void {
    const a = { component_id: id, kind };
    if (kind !== 'receiver') this.#recordsIn.add(0, a);
    if (kind !== 'exporter') this.#recordsOut.add(0, a);
    if (kind !== 'receiver') this.#recordsDropped.add(0, a);
    if (kind === 'exporter') this.#exportFailed.add(0, { component_id: id });
  }

  recordsIn(id: string, kind: ComponentKind, n: number): void {
    this.#recordsIn.add(n, { component_id: id, kind } satisfies Attributes);
  }
  recordsOut(id: string, kind: ComponentKind, n: number): void {
    this.#recordsOut.add(n, { component_id: id, kind });
  }
  recordsDropped(id: string, kind: ComponentKind, n: number): void {
    this.#recordsDropped.add(n, { component_id: id, kind });
  }
  /** A failed send: a rejected consume() (counted by the service) or ComponentSettings.reportSendFailure(). */
  exportFailed(id: string, count = 1): void {
    this.#exportFailed.add(count, { component_id: id });
  }

  /** zonetap's metrics, then the process metrics, in the Prometheus text format. */
  async #render(): Promise<string> {
    const { resourceMetrics } = await this.#exporter.collect();
    const own = this.#serializer.serialize(resourceMetrics);
    return this.#process ? own + (await this.#process.metrics()) : own;
  }

  /** Serves the Prometheus text format. */
  handleMetrics(_request: IncomingMessage, response: ServerResponse): void {
    this.#render().then(
      (text) => {
        response.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
        response.end(text);
      },
      (err: unknown) => {
        response.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' });
        response.end(`# failed to collect metrics: ${err instanceof Error ? err.message : String(err)}\n`);
      },
    );
  }

  async shutdown(): Promise<void> {
    await this.#provider.shutdown();
  }
}
