import { z } from 'zod';
import { duration } from '../../pipeline/schema.ts';

/** `exporters: console:` — see README.md. */
export const consoleConfigSchema = z.strictObject({
  /** How often the view is written, in ms after parsing; rates are over the last three periods. */
  interval: duration().prefault('5s'),
  /** Workload pairs listed under "Top workloads". */
  top: z.number({ error: 'expected a whole number of workload pairs, like 5' }).int('expected a whole number of workload pairs, like 5').min(1, 'list at least 1 workload pair').max(100, 'at most 100 workload pairs').default(5),
});

export type ConsoleConfig = z.output<typeof consoleConfigSchema>;
