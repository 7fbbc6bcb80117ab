import type { ProcessorFactory } from '../../pipeline/component.ts';
import { createDefaultCrosszoneConfig, crosszoneConfigSchema, type CrosszoneConfig } from './config.ts';
import { CrosszoneProcessor } from './processor.ts';

export const crosszoneProcessorFactory: ProcessorFactory<CrosszoneConfig> = {
  kind: 'processor',
  type: 'crosszone',
  stability: 'beta',
  description: 'Sets the traffic class of each flow (same_zone, cross_zone, cross_region, internet, unknown) and keeps the classes asked for.',
  configSchema: crosszoneConfigSchema,
  createDefaultConfig: createDefaultCrosszoneConfig,
  mutatesData: true,
  create: (settings, config, next) => new CrosszoneProcessor(settings, config, next),
};
