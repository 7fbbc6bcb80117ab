/**
 * Monthly volume tiers (internet egress): what a month's volume costs, and
 * the one price per unit zonetap puts on every byte. Providers tier the whole
 * billing account's monthly volume, which no agent or gateway sees, so
 * zonetap never counts volume itself: it prices with a configured monthly
 * volume, the same in every process (README.md, "Tiers and free allowances").
 */
import type { VolumeTier } from './prices.ts';

/** What `volume` units in one month cost through `tiers` (each band at its own price). */
export function monthlyCost(tiers: readonly VolumeTier[], volume: number): number {
  let cost = 0;
  let from = 0;
  for (const tier of tiers) {
    if (volume <= from) break;
    cost += (Math.min(volume, tier.upTo) - from) * tier.price;
    from = tier.upTo;
  }
  return cost;
}

/**
 * The average price per unit of a month of `volume` units: the invoice's line
 * divided by its volume. Every unit priced at it adds up to the invoice's
 * line when the month's volume is `volume`.
 */
export function averagePrice(tiers: readonly VolumeTier[], volume: number): number {
  return monthlyCost(tiers, volume) / volume;
}

/**
 * The price of the first band that costs anything: what one more unit costs
 * an account that has used its free allowance and is within its first paid
 * band (most accounts that run a cluster, most of the month).
 */
export function firstPaidPrice(tiers: readonly VolumeTier[]): number {
  return tiers.find((tier) => tier.price > 0)?.price ?? 0;
}
