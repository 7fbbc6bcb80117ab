import type { ExporterFactory } from '../../pipeline/component.ts';
import { consoleConfigSchema, type ConsoleConfig } from './config.ts';
import { ConsoleExporter } from './exporter.ts';

export const consoleExporterFactory: ExporterFactory<ConsoleConfig> = {
  kind: 'exporter',
  type: 'console',
  stability: 'development',
  description: 'Writes the live view to stdout every interval: zone-to-zone matrix, top workloads by cross-zone bytes/s, monthly cost.',
  configSchema: consoleConfigSchema,
  create: (settings, config) => new ConsoleExporter(settings, config, process.stdout),
};
