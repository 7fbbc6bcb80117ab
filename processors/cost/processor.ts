import type { ComponentSettings } from '../../pipeline/component.ts';
import type { FlowBatch, FlowRecord, TrafficClass } from '../../pipeline/flow.ts';
import type { CostConfig } from './config.ts';
import { BUILT_IN_PRICES, BYTES_PER_GB, type ClassPrices } from './prices.ts';

/** The price table of a config: the provider's, with `prices` over it (USD per GB). */
export function classPrices(config: CostConfig): Readonly<ClassPrices> {
  const base = config.provider === 'custom' ? { same_zone: 0, cross_zone: 0, cross_region: 0, internet: 0, unknown: 0 } : BUILT_IN_PRICES[config.provider];
  const prices = { ...base };
  for (const [cls, price] of Object.entries(config.prices) as [TrafficClass, number | undefined][]) if (price !== undefined) prices[cls] = price;
  return Object.freeze(prices);
}

/**
 * USD per GB of one record: by traffic class and, for cross_region flows, by
 * (source region, destination region) when `region_pairs` lists the pair
 * (either direction when the reverse is not listed). Records without a class cost 0.
 */
export function pricer(config: CostConfig): (record: FlowRecord) => number {
  const prices = classPrices(config);
  /** `from\0to` -> USD per GB, both directions filled in where only one was given. */
  const pairs = new Map<string, number>();
  for (const p of config.region_pairs) pairs.set(`${p.from}\u0000${p.to}`, p.price);
  for (const p of config.region_pairs) {
    const reverse = `${p.to}\u0000${p.from}`;
    if (!pairs.has(reverse)) pairs.set(reverse, p.price);
  }
  return (record) => {
    const cls = record.trafficClass;
    if (cls === undefined) return 0;
    if (cls === 'cross_region' && pairs.size > 0 && record.src.region && record.dst.region) {
      const pair = pairs.get(`${record.src.region}\u0000${record.dst.region}`);
      if (pair !== undefined) return pair;
    }
    return prices[cls];
  };
}

/**
 * The cost batch function: sets `costUsd = bytes / 10^9 * price` on every
 * record. Records without a class cost 0 (put processors/crosszone first; a
 * warning says so once).
 */
export function priceBatches(settings: ComponentSettings, config: CostConfig): (batch: FlowBatch) => void {
  const priceOf = pricer(config);
  let warnedUnclassified = false;
  return (batch) => {
    for (const record of batch.records) {
      if (record.trafficClass === undefined && !warnedUnclassified) {
        warnedUnclassified = true;
        settings.logger.warn('records without a traffic class are priced at 0: put processors/crosszone before cost');
      }
      record.costUsd = (record.bytes / BYTES_PER_GB) * priceOf(record);
    }
  };
}
