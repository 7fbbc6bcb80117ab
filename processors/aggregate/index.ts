export { aggregateProcessorFactory } from './factory.ts';
export { aggregateConfigSchema, AGGREGATION_LEVELS, type AggregateConfig } from './config.ts';
export { AggregateProcessor } from './processor.ts';
export { rollUp, rollUpEndpoint, type AggregationLevel } from './rollup.ts';
