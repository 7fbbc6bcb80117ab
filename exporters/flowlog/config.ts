import { z } from 'zod';
import { appendableFileProblem, trafficClassList } from '../../pipeline/schema.ts';

/** `exporters: flowlog:` — see README.md. */
export const flowlogConfigSchema = z.strictObject({
  /** `stdout`, or a file that lines are appended to (created if missing; its directory must exist and be writable). */
  path: z
    .string({ error: 'expected "stdout" or a file path' })
    .min(1, 'expected "stdout" or a file path, got an empty string')
    .default('stdout')
    .superRefine((path, ctx) => {
      const problem = path === 'stdout' ? undefined : appendableFileProblem(path, 'flow log');
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    }),
  /** Traffic classes to write; omitted: every record, classified or not. */
  classes: trafficClassList('to write every record').optional(),
});

export type FlowlogConfig = z.output<typeof flowlogConfigSchema>;
