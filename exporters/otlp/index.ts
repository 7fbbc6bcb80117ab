export { otlpExporterFactory } from './factory.ts';
export { OtlpExporter, ExportClock } from './exporter.ts';
export { createMetricExporter, httpMetricsUrl, HTTP_METRICS_PATH } from './transport.ts';
export { otlpExporterConfigSchema, PROTOCOLS, type OtlpExporterConfig, type Protocol } from './config.ts';
export { FlowTotals, OVERFLOW_ATTRIBUTES, type FlowPoint, type FlowSeries, type SnapshotPoint, type Temporality } from './store.ts';
export { flowResourceMetrics, agentResource, BYTES_METRIC, PACKETS_METRIC, COST_METRIC } from './metrics.ts';
