import { existsSync } from 'node:fs';
import { z } from 'zod';
import { kernelFlowsConfigShape } from '../kernel/index.ts';

/** `receivers: netfilter:` — see README.md. */
export const netfilterConfigSchema = z.strictObject({
  ...kernelFlowsConfigShape,
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
});

export type NetfilterConfig = z.output<typeof netfilterConfigSchema>;
