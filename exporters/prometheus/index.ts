export { prometheusExporterFactory } from './factory.ts';
export { PrometheusFlowExporter, OVERFLOW_LABELS, METRICS_PATH } from './exporter.ts';
export { configSchema, DEFAULT_MAX_SERIES } from './config.ts';
export type { PrometheusExporterConfig } from './config.ts';
export { kubezonnetSource, KUBEZONNET_METRIC, NODE_NAMESPACE } from './kubezonnet.ts';
