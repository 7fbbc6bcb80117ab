/**
 * The `external` and `external_ranges` options of k8sattributes: named
 * blocks outside the cluster (managed databases, peered VPCs, on-premises
 * networks) and the cloud providers' published range files, usable with
 * either source. Kept apart from config.ts so the two lists read as one
 * feature.
 */
import { z } from 'zod';
import { cidr, existingFile } from '../../pipeline/schema.ts';
import { EXTERNAL_KINDS, RANGE_PROVIDERS, RangeFileError, readRangeFile } from './external-ranges.ts';

/** An external block's `kind`, in the config's `external` list and in the static inventory. */
export const externalKind = z.enum(EXTERNAL_KINDS, { error: (i) => `unknown kind ${JSON.stringify(i.input)}: expected one of ${EXTERNAL_KINDS.join(', ')}` });

const label = (what: string) => z.string({ error: `expected a ${what}` }).min(1, `${what} must not be empty`);

export const externalBlockSchema = z.strictObject({
  name: label('name'),
  cidrs: z.array(cidr(), { error: 'expected a list of CIDR blocks like [10.50.0.0/24]' }).min(1, 'an external block needs at least one CIDR'),
  zone: label('zone').optional(),
  region: label('region').optional(),
  kind: externalKind.default('other'),
});

export const externalRangesSchema = z.strictObject({
  provider: z.enum(RANGE_PROVIDERS, { error: (i) => `unknown provider ${JSON.stringify(i.input)}: expected aws (ip-ranges.json), gcp (cloud.json) or azure (Service Tags JSON)` }),
  /** The file as the provider publishes it; read at start, never fetched. */
  path: existingFile(),
}).superRefine((r, ctx) => {
  // Read at validation too, so `zonetap validate` says where a file breaks its provider's format.
  try {
    readRangeFile(r.provider, r.path);
  } catch (err) {
    if (!(err instanceof RangeFileError)) throw err;
    ctx.addIssue({ code: 'custom', path: ['path'], message: err.message });
  }
});

/** The two options, spread into the k8sattributes schema. */
export const externalOptions = {
  /** Named blocks outside the cluster; the longest block containing an address names it. */
  external: z.array(externalBlockSchema, { error: 'expected a list of external blocks ({name, cidrs, zone, region, kind})' }).optional(),
  /** Cloud providers' published range files: every prefix named by its service and region. */
  external_ranges: z.array(externalRangesSchema, { error: 'expected a list of {provider, path}' }).optional(),
};
