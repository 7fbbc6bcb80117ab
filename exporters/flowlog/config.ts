import { existsSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { z } from 'zod';
import { trafficClassList } from '../../pipeline/schema.ts';

/** `exporters: flowlog:` — see README.md. */
export const flowlogConfigSchema = z.strictObject({
  /** `stdout`, or a file that lines are appended to (created if missing; its directory must exist). */
  path: z
    .string({ error: 'expected "stdout" or a file path' })
    .min(1, 'expected "stdout" or a file path, got an empty string')
    .default('stdout')
    .superRefine((path, ctx) => {
      if (path === 'stdout') return;
      const dir = dirname(resolve(path));
      if (!existsSync(dir) || !statSync(dir).isDirectory()) ctx.addIssue({ code: 'custom', message: `directory "${dir}" of flow log "${path}" does not exist` });
      else if (existsSync(path) && statSync(path).isDirectory()) ctx.addIssue({ code: 'custom', message: `flow log "${path}" is a directory; expected a file path` });
    }),
  /** Traffic classes to write; omitted: every record, classified or not. */
  classes: trafficClassList('to write every record').optional(),
});

export type FlowlogConfig = z.output<typeof flowlogConfigSchema>;
