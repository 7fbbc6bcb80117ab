export { costProcessorFactory } from './factory.ts';
export { costConfigSchema, type CostConfig } from './config.ts';
export { priceBatches, recordCost, resolvePrices, type ResolvedPrices } from './processor.ts';
export { BYTES_PER_UNIT, PRICE_TABLES, type BillingUnit, type BuiltInProvider, type ClassPrices, type PriceTable, type Provider, type VolumeTier } from './prices.ts';
export { averagePrice, firstPaidPrice, monthlyCost } from './tiers.ts';
export { parseVolume } from './volume.ts';
