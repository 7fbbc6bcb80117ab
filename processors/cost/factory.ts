import { batchProcessorFactory } from '../../pipeline/batch-processor.ts';
import { costConfigSchema } from './config.ts';
import { priceBatches } from './processor.ts';

export const costProcessorFactory = batchProcessorFactory({
  type: 'cost',
  stability: 'beta',
  description: 'Prices each flow in US dollars by traffic class and region pair, with NAT gateway processing and monthly internet tiers (gcp, aws, azure or custom price tables).',
  configSchema: costConfigSchema,
  createBatchFunction: priceBatches,
});
