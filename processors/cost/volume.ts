/**
 * Data volumes in configuration (`internet_monthly_volume: 50 TB`, a tier's
 * `up_to: 10 TiB`): a number and its unit, always written, because providers
 * mix decimal (GB, TB: AWS, Azure) and binary (GiB, TiB: Google) units and a
 * bare number would silently mean one of them.
 */
import { z } from 'zod';

/** Bytes in one unit a volume may be written in. */
const BYTES_PER: Readonly<Record<string, number>> = { GB: 1e9, TB: 1e12, GiB: 2 ** 30, TiB: 2 ** 40 };

const VOLUME = /^(\d+(?:\.\d+)?)\s*(GB|TB|GiB|TiB)$/;

/** Bytes of `text` (`50 TB`, `100 GiB`), or undefined when it is not a volume with its unit. */
export function parseVolume(text: string): number | undefined {
  const m = VOLUME.exec(text.trim());
  return m ? Number(m[1]) * BYTES_PER[m[2]!]! : undefined;
}

/** A volume like `50 TB` or `20 TiB`, as bytes (more than 0). */
export const volume = () =>
  z.string({ error: 'expected a volume with its unit, like 50 TB or 20 TiB (GB, TB, GiB or TiB)' }).transform((text, ctx) => {
    const bytes = parseVolume(text);
    if (bytes === undefined) {
      ctx.addIssue({ code: 'custom', message: `invalid volume "${text}": expected a number with its unit, like 50 TB or 20 TiB (GB, TB, GiB or TiB)` });
      return z.NEVER;
    }
    if (bytes <= 0) {
      ctx.addIssue({ code: 'custom', message: `volume "${text}" must be more than 0` });
      return z.NEVER;
    }
    return bytes;
  });
