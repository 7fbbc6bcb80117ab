import type { ExporterFactory } from '../../pipeline/component.ts';
import { otlpExporterConfigSchema, type OtlpExporterConfig } from './config.ts';
import { OtlpExporter } from './exporter.ts';

export const otlpExporterFactory: ExporterFactory<OtlpExporterConfig> = {
  kind: 'exporter',
  type: 'otlp',
  stability: 'alpha',
  description: 'Sends flow counts (bytes, packets, cost) over OTLP/gRPC or OTLP/HTTP, e.g. from agents to the gateway',
  configSchema: otlpExporterConfigSchema,
  create: (settings, config) => new OtlpExporter(settings, config),
};
