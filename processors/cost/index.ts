export { costProcessorFactory } from './factory.ts';
export { costConfigSchema, type CostConfig } from './config.ts';
export { classPrices, priceBatches, pricer } from './processor.ts';
export { BUILT_IN_PRICES, BYTES_PER_GB, type ClassPrices, type Provider } from './prices.ts';
