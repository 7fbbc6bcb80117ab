import type { ExporterFactory } from '../../pipeline/component.ts';
import { flowlogConfigSchema, type FlowlogConfig } from './config.ts';
import { FlowlogExporter } from './exporter.ts';

export const flowlogExporterFactory: ExporterFactory<FlowlogConfig> = {
  kind: 'exporter',
  type: 'flowlog',
  stability: 'beta',
  description: 'Writes one JSON line per flow record (every attribute, bytes, packets, cost) to stdout or a file.',
  configSchema: flowlogConfigSchema,
  create: (settings, config) => new FlowlogExporter(settings, config),
};
