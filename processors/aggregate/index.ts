export { aggregateProcessorFactory } from './factory.ts';
export { aggregateConfigSchema, AGGREGATION_LEVELS, type AggregateConfig } from './config.ts';
export { aggregateBatches } from './processor.ts';
export { RollUp, rollUp } from './rollup.ts';
export { rollUpEndpoint, type AggregationLevel } from './endpoint.ts';
