import { batchProcessorFactory } from '../../pipeline/batch-processor.ts';
import { aggregateConfigSchema } from './config.ts';
import { aggregateBatches } from './processor.ts';

export const aggregateProcessorFactory = batchProcessorFactory({
  type: 'aggregate',
  stability: 'beta',
  description: 'Rolls flows up to pods, workloads or namespaces, dropping ports, summing bytes, packets and cost.',
  configSchema: aggregateConfigSchema,
  createBatchFunction: (_settings, config) => aggregateBatches(config),
});
