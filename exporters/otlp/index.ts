export { otlpExporterFactory } from './factory.ts';
export { OtlpExporter, ExportClock, channelCredentials } from './exporter.ts';
export { otlpExporterConfigSchema, type OtlpExporterConfig } from './config.ts';
export { FlowTotals, OVERFLOW_ATTRIBUTES, type FlowPoint, type FlowSeries, type SnapshotPoint, type Temporality } from './store.ts';
export { flowResourceMetrics, agentResource, BYTES_METRIC, PACKETS_METRIC, COST_METRIC } from './metrics.ts';
