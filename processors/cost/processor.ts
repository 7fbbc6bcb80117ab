import type { ComponentSettings } from '../../pipeline/component.ts';
import type { FlowBatch, FlowRecord } from '../../pipeline/flow.ts';
import { isPublicAddress } from '../../net/index.ts';
import type { CostConfig } from './config.ts';
import { BYTES_PER_UNIT, PRICE_TABLES, type BillingUnit, type ClassPrices, type VolumeTier } from './prices.ts';
import { averagePrice, firstPaidPrice } from './tiers.ts';

/** The prices a config puts on flows, every one per `unit`. */
export interface ResolvedPrices {
  unit: BillingUnit;
  bytesPerUnit: number;
  /** By class; `internet` is `prices.internet`, else the tiers' average at `internet_monthly_volume`, else their first paid band. */
  classes: Readonly<ClassPrices>;
  /** Added to flows from a private to a public address; 0 without `nat_gateway`. */
  natGateway: number;
}

/** The provider's table with the config over it. */
export function resolvePrices(config: CostConfig): Readonly<ResolvedPrices> {
  const table = config.provider === 'custom' ? undefined : PRICE_TABLES[config.provider];
  const unit = table?.unit ?? config.unit ?? 'GB';
  const bytesPerUnit = BYTES_PER_UNIT[unit];
  const tiers = config.internet_tiers?.map((t): VolumeTier => ({ upTo: t.up_to === undefined ? Infinity : t.up_to / bytesPerUnit, price: t.price })) ?? table?.internetTiers;
  const classes: ClassPrices = { same_zone: 0, same_region: 0, cross_zone: 0, cross_region: 0, unknown: 0, ...table?.prices, internet: internetPrice(config, tiers, bytesPerUnit) };
  for (const cls of ['same_zone', 'same_region', 'cross_zone', 'cross_region', 'unknown'] as const) {
    const price = config.prices[cls];
    if (price !== undefined) classes[cls] = price;
  }
  const natGateway = config.nat_gateway ? (config.prices.nat_gateway ?? table?.natGateway ?? 0) : 0;
  return Object.freeze({ unit, bytesPerUnit, classes: Object.freeze(classes), natGateway });
}

/** `prices.internet`, else the tiers' average at the configured monthly volume, else their first paid band. */
function internetPrice(config: CostConfig, tiers: readonly VolumeTier[] | undefined, bytesPerUnit: number): number {
  if (config.prices.internet !== undefined) return config.prices.internet;
  // The schema makes sure a custom table has prices.internet or tiers.
  if (tiers === undefined) return 0;
  const volume = config.internet_monthly_volume;
  return volume === undefined ? firstPaidPrice(tiers) : averagePrice(tiers, volume / bytesPerUnit);
}

/**
 * USD of one record: its bytes in the table's unit times the price of its
 * class (for cross_region flows, of the pair (source region, destination
 * region) when `region_pairs` lists it, either direction when the reverse is
 * not listed), plus NAT gateway processing when `nat_gateway` is on and the
 * flow goes from a private to a public address. Records without a class cost 0.
 */
export function recordCost(config: CostConfig): (record: FlowRecord) => number {
  const { bytesPerUnit, classes, natGateway } = resolvePrices(config);
  /** `from\0to` -> USD per unit, both directions filled in where only one was given. */
  const pairs = new Map<string, number>();
  for (const p of config.region_pairs) pairs.set(`${p.from}\u0000${p.to}`, p.price);
  for (const p of config.region_pairs) {
    const reverse = `${p.to}\u0000${p.from}`;
    if (!pairs.has(reverse)) pairs.set(reverse, p.price);
  }
  const classPrice = (record: FlowRecord): number => {
    const cls = record.trafficClass!;
    if (cls === 'cross_region' && pairs.size > 0 && record.src.region && record.dst.region) {
      const pair = pairs.get(`${record.src.region}\u0000${record.dst.region}`);
      if (pair !== undefined) return pair;
    }
    return classes[cls];
  };
  // A NAT gateway translates private sources for public destinations: the
  // internet, and public endpoints of cloud services or other clusters.
  const natPrice = (record: FlowRecord): number => (natGateway > 0 && isPublicAddress(record.dst.address) && !isPublicAddress(record.src.address) ? natGateway : 0);
  return (record) => (record.trafficClass === undefined ? 0 : (record.bytes / bytesPerUnit) * (classPrice(record) + natPrice(record)));
}

/**
 * The cost batch function: sets `costUsd` on every record. Records without a
 * class cost 0 (put processors/crosszone first; a warning says so once).
 */
export function priceBatches(settings: ComponentSettings, config: CostConfig): (batch: FlowBatch) => void {
  const costOf = recordCost(config);
  let warnedUnclassified = false;
  return (batch) => {
    for (const record of batch.records) {
      if (record.trafficClass === undefined && !warnedUnclassified) {
        warnedUnclassified = true;
        settings.logger.warn('records without a traffic class are priced at 0: put processors/crosszone before cost');
      }
      record.costUsd = costOf(record);
    }
  };
}
