import type { ExporterFactory } from '../../pipeline/component.ts';
import { configSchema, type PrometheusExporterConfig } from './config.ts';
import { PrometheusFlowExporter } from './exporter.ts';

export const prometheusExporterFactory: ExporterFactory<PrometheusExporterConfig> = {
  kind: 'exporter',
  type: 'prometheus',
  stability: 'beta',
  description: 'Serves flow bytes, packets and cost (and kubezonnet\'s metric) on /metrics for Prometheus, with series expiry.',
  configSchema,
  create: (settings, config) => new PrometheusFlowExporter(settings, config),
};
