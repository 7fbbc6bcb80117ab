import { z } from 'zod';
import { trafficClassList } from '../../pipeline/schema.ts';

/** `processors: crosszone:` — see README.md. */
export const crosszoneConfigSchema = z.strictObject({
  /** Classes passed on; records of other classes are dropped. Omitted: every class. */
  keep: trafficClassList('to keep every class').optional(),
});

export type CrosszoneConfig = z.output<typeof crosszoneConfigSchema>;

