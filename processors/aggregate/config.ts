import { z } from 'zod';

export const AGGREGATION_LEVELS = ['pod', 'workload', 'namespace'] as const;

/** `processors: aggregate:` — see README.md. */
export const aggregateConfigSchema = z.strictObject({
  /** Level records are rolled up to. */
  by: z.enum(AGGREGATION_LEVELS, { error: (issue) => `unknown level ${JSON.stringify(issue.input)}: expected pod, workload or namespace` }).default('workload'),
});

export type AggregateConfig = z.output<typeof aggregateConfigSchema>;

