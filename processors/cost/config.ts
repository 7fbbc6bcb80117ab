import { z } from 'zod';
import { PRICE_TABLES } from './prices.ts';
import { volume } from './volume.ts';

const price = () => z.number({ error: 'expected a price in US dollars per GB or GiB (the unit of the price table), like 0.01' }).finite().nonnegative('a price cannot be negative');

/** `processors: cost:` — see README.md. */
export const costConfigSchema = z
  .strictObject({
    /** Built-in price table; `custom` takes every class price from `prices`. */
    provider: z.enum(['gcp', 'aws', 'azure', 'custom'], { error: (issue) => `unknown provider ${JSON.stringify(issue.input)}: expected gcp, aws, azure or custom` }).default('gcp'),
    /** The unit the prices of provider `custom` are per (GB when omitted); a built-in table has its provider's. */
    unit: z.enum(['GB', 'GiB'], { error: (issue) => `unknown unit ${JSON.stringify(issue.input)}: expected GB (10^9 bytes) or GiB (2^30 bytes)` }).optional(),
    /** USD per unit by traffic class (and NAT gateway processing), over the provider's table. */
    prices: z
      .strictObject({
        same_zone: price().optional(),
        same_region: price().optional(),
        cross_zone: price().optional(),
        cross_region: price().optional(),
        internet: price().optional(),
        unknown: price().optional(),
        nat_gateway: price().optional(),
      })
      .default({}),
    /** USD per unit of cross_region flows from region `from` to region `to` (either direction when the reverse is not listed). */
    region_pairs: z
      .array(
        z.strictObject({
          from: z.string({ error: 'expected a region name' }).min(1, 'expected a region name'),
          to: z.string({ error: 'expected a region name' }).min(1, 'expected a region name'),
          price: price(),
        }),
      )
      .default([]),
    /** Flows from private to public addresses pass a NAT gateway: add its data processing price. */
    nat_gateway: z.boolean({ error: 'expected true or false' }).default(false),
    /** The billing account's internet egress per month: internet is priced at the average price of its tiers. */
    internet_monthly_volume: volume().optional(),
    /** Internet egress tiers per month, replacing the provider's: the last has no `up_to`. */
    internet_tiers: z
      .array(z.strictObject({ up_to: volume().optional(), price: price() }))
      .min(1, 'expected at least one tier, the last without up_to')
      .optional(),
  })
  .superRefine((config, ctx) => {
    const problem = (path: (string | number)[], message: string) => ctx.addIssue({ code: 'custom', path, message });
    const custom = config.provider === 'custom';
    const unit = config.provider === 'custom' ? (config.unit ?? 'GB') : PRICE_TABLES[config.provider].unit;
    if (!custom && config.unit !== undefined) problem(['unit'], `the ${config.provider} table is per ${unit}, as ${config.provider} bills (its prices and yours are per ${unit}): unit is for provider "custom" only`);
    if (custom) {
      for (const cls of ['same_zone', 'cross_zone', 'cross_region'] as const) {
        if (config.prices[cls] === undefined) problem(['prices', cls], `provider "custom" needs a price for ${cls} (USD per ${unit})`);
      }
      if (config.prices.internet === undefined && config.internet_tiers === undefined) problem(['prices', 'internet'], `provider "custom" needs a price for internet (USD per ${unit}), or internet_tiers`);
    }
    if (config.prices.internet !== undefined && config.internet_tiers !== undefined) problem(['internet_tiers'], 'give either prices.internet (one price for every byte) or internet_tiers, not both');
    if (config.internet_monthly_volume !== undefined) {
      if (config.prices.internet !== undefined) problem(['internet_monthly_volume'], 'internet_monthly_volume picks the average price of the internet tiers, and prices.internet replaces the tiers with one price: give one of the two');
      else if (custom && config.internet_tiers === undefined) problem(['internet_monthly_volume'], 'provider "custom" has no internet tiers: give internet_tiers with internet_monthly_volume');
    }
    config.internet_tiers?.forEach((tier, i, tiers) => {
      const last = i === tiers.length - 1;
      if (last && tier.up_to !== undefined) problem(['internet_tiers', i, 'up_to'], 'the last tier has no up_to: it prices everything above the tier before it');
      if (!last && tier.up_to === undefined) problem(['internet_tiers', i], 'only the last tier may leave out up_to');
      const before = tiers[i - 1]?.up_to;
      if (tier.up_to !== undefined && before !== undefined && tier.up_to <= before) problem(['internet_tiers', i, 'up_to'], 'up_to must be more than the up_to of the tier before it (tiers count from the first byte of the month)');
    });
    if (config.prices.nat_gateway !== undefined && !config.nat_gateway) problem(['prices', 'nat_gateway'], 'prices.nat_gateway is used only with nat_gateway: true');
    if (custom && config.nat_gateway && config.prices.nat_gateway === undefined) problem(['prices', 'nat_gateway'], `provider "custom" with nat_gateway: true needs prices.nat_gateway (USD per ${unit} processed)`);
    const seen = new Set<string>();
    config.region_pairs.forEach((pair, i) => {
      const key = `${pair.from}\u0000${pair.to}`;
      if (seen.has(key)) problem(['region_pairs', i], `region pair ${pair.from} -> ${pair.to} is listed twice`);
      seen.add(key);
    });
  });

export type CostConfig = z.output<typeof costConfigSchema>;
