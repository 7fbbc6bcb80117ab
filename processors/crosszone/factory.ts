import { batchProcessorFactory } from '../../pipeline/batch-processor.ts';
import { crosszoneConfigSchema } from './config.ts';
import { classifyBatches } from './processor.ts';

export const crosszoneProcessorFactory = batchProcessorFactory({
  type: 'crosszone',
  stability: 'beta',
  description: 'Sets the traffic class of each flow (same_zone, same_region, cross_zone, cross_region, internet, unknown) and keeps the classes asked for.',
  configSchema: crosszoneConfigSchema,
  createBatchFunction: (_settings, config) => classifyBatches(config),
});
