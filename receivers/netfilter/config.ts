import { existsSync } from 'node:fs';
import { z } from 'zod';
import { cidr, duration } from '../../pipeline/schema.ts';

/** `receivers: netfilter:` — see README.md. */
export const netfilterConfigSchema = z.strictObject({
  /** How often the kernel flow table is drained, in ms after parsing. */
  interval: duration().prefault('10s'),
  /** Kernel flow table size; traffic of flows that find it full is counted as overflow. */
  max_flows: z
    .number({ error: 'expected a whole number of flows, like 65536' })
    .int({ error: 'expected a whole number of flows, like 65536' })
    .min(1, { error: 'max_flows must be at least 1' })
    .max(4_194_304, { error: 'max_flows must be at most 4194304 (each table preallocates about 120 bytes per flow)' })
    .default(65536),
  /** Families to hook: one netfilter link each. */
  ip_families: z
    .array(z.enum(['ipv4', 'ipv6'], { error: 'expected ipv4 or ipv6' }))
    .min(1, { error: 'ip_families needs at least one of ipv4, ipv6' })
    .refine((list) => new Set(list).size === list.length, { error: 'ip_families lists a family twice' })
    .default(['ipv4', 'ipv6']),
  /** Attach inside this network namespace (a path like /run/netns/node-a) instead of zonetap's own. */
  netns: z
    .string({ error: 'expected a network namespace path like /run/netns/node-a' })
    .superRefine((path, ctx) => {
      if (!existsSync(path)) ctx.addIssue({ code: 'custom', message: `network namespace "${path}" does not exist` });
    })
    .optional(),
  /** Keep only flows whose source or destination is in one of these blocks (empty: keep all). */
  include_cidrs: z.array(cidr()).default([]),
  /** Drop flows whose source or destination is in one of these blocks (applied after include_cidrs). */
  exclude_cidrs: z.array(cidr()).default([]),
});

export type NetfilterConfig = z.output<typeof netfilterConfigSchema>;
