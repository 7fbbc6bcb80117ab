/**
 * The baseline of bench/prometheus.bench.ts: /metrics as the prometheus
 * exporter served it before renders were shared and sliced. Every request
 * collects the stores through an OpenTelemetry MetricProducer and renders
 * them with @opentelemetry/exporter-prometheus in one synchronous call; no
 * limit on concurrent scrapes.
 */
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { MeterProvider, type MetricProducer, type MetricReader } from '@opentelemetry/sdk-metrics';
import type { CounterFamily } from '../exporters/prometheus/index.ts';
import { resourceMetricsOf } from '../test/support/prometheus.ts';

export async function startBaselineServer(families: readonly CounterFamily[], port: number): Promise<{ address: string; shutdown(): Promise<void> }> {
  const producer: MetricProducer = { collect: async () => ({ resourceMetrics: resourceMetricsOf(families, Date.now()), errors: [] }) };
  const reader = new PrometheusExporter({ host: '127.0.0.1', port, withoutScopeInfo: true, withoutTargetInfo: true, metricProducers: [producer] });
  await reader.startServer();
  // exporter-prometheus depends on its own copy of sdk-metrics: same contract, distinct class for the compiler.
  const provider = new MeterProvider({ readers: [reader as unknown as MetricReader] });
  return { address: `127.0.0.1:${port}`, shutdown: () => provider.shutdown() };
}
