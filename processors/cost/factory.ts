import type { ProcessorFactory } from '../../pipeline/component.ts';
import { costConfigSchema, createDefaultCostConfig, type CostConfig } from './config.ts';
import { CostProcessor } from './processor.ts';

export const costProcessorFactory: ProcessorFactory<CostConfig> = {
  kind: 'processor',
  type: 'cost',
  stability: 'beta',
  description: 'Prices each flow in US dollars by traffic class and region pair (gcp, aws, azure or custom price tables).',
  configSchema: costConfigSchema,
  createDefaultConfig: createDefaultCostConfig,
  mutatesData: true,
  create: (settings, config, next) => new CostProcessor(settings, config, next),
};
