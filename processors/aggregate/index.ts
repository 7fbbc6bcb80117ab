export { aggregateProcessorFactory } from './factory.ts';
export { aggregateConfigSchema, AGGREGATION_LEVELS, type AggregateConfig } from './config.ts';
export { aggregateBatches } from './processor.ts';
export { RollUp, rollUp, rollUpEndpoint, type AggregationLevel } from './rollup.ts';
