export { prometheusExporterFactory } from './factory.ts';
export { PrometheusFlowExporter, OVERFLOW_LABELS, METRICS_PATH, flowFamilies, type PrometheusExporterOptions } from './exporter.ts';
export type { CounterFamily } from './exposition.ts';
export { configSchema, DEFAULT_MAX_SERIES, DEFAULT_MAX_CONNECTIONS } from './config.ts';
export type { PrometheusExporterConfig } from './config.ts';
export { kubezonnetSource, KUBEZONNET_METRIC, NODE_NAMESPACE } from './kubezonnet.ts';
