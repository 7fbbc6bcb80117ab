import type { ProcessorFactory } from '../../pipeline/component.ts';
import { aggregateConfigSchema, createDefaultAggregateConfig, type AggregateConfig } from './config.ts';
import { AggregateProcessor } from './processor.ts';

export const aggregateProcessorFactory: ProcessorFactory<AggregateConfig> = {
  kind: 'processor',
  type: 'aggregate',
  stability: 'beta',
  description: 'Rolls flows up to pods, workloads or namespaces, dropping ports, summing bytes, packets and cost.',
  configSchema: aggregateConfigSchema,
  createDefaultConfig: createDefaultAggregateConfig,
  mutatesData: true,
  create: (settings, config, next) => new AggregateProcessor(settings, config, next),
};
