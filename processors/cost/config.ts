import { z } from 'zod';

const price = () => z.number({ error: 'expected a price in US dollars per GB, like 0.01' }).finite().nonnegative('a price cannot be negative');

/** `processors: cost:` — see README.md. */
export const costConfigSchema = z
  .strictObject({
    /** Built-in price table; `custom` takes every class price from `prices`. */
    provider: z.enum(['gcp', 'aws', 'azure', 'custom'], { error: (issue) => `unknown provider ${JSON.stringify(issue.input)}: expected gcp, aws, azure or custom` }).default('gcp'),
    /** USD per GB by traffic class, over the provider's table. */
    prices: z
      .strictObject({
        same_zone: price().optional(),
        cross_zone: price().optional(),
        cross_region: price().optional(),
        internet: price().optional(),
        unknown: price().optional(),
      })
      .default({}),
    /** USD per GB of cross_region flows from region `from` to region `to` (either direction when the reverse is not listed). */
    region_pairs: z
      .array(
        z.strictObject({
          from: z.string({ error: 'expected a region name' }).min(1, 'expected a region name'),
          to: z.string({ error: 'expected a region name' }).min(1, 'expected a region name'),
          price: price(),
        }),
      )
      .default([]),
  })
  .superRefine((config, ctx) => {
    if (config.provider === 'custom') {
      for (const cls of ['same_zone', 'cross_zone', 'cross_region', 'internet'] as const) {
        if (config.prices[cls] === undefined) ctx.addIssue({ code: 'custom', path: ['prices', cls], message: `provider "custom" needs a price for ${cls} (USD per GB)` });
      }
    }
    const seen = new Set<string>();
    config.region_pairs.forEach((pair, i) => {
      const key = `${pair.from}\u0000${pair.to}`;
      if (seen.has(key)) ctx.addIssue({ code: 'custom', path: ['region_pairs', i], message: `region pair ${pair.from} -> ${pair.to} is listed twice` });
      seen.add(key);
    });
  });

export type CostConfig = z.output<typeof costConfigSchema>;

