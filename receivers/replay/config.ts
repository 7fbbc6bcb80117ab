import { z } from 'zod';
import { duration, existingFile } from '../../pipeline/schema.ts';

/** `receivers: replay:` — see README.md. */
export const replayConfigSchema = z.strictObject({
  /** Flow log file (JSON lines, the format exporters/flowlog writes). Required. */
  path: existingFile(),
  /** Pause between two recorded intervals, in ms after parsing. */
  interval: duration().prefault('1s'),
  /** Start again from the first interval after the last one, with timestamps moved forward. */
  loop: z.boolean({ error: 'expected true or false' }).default(false),
});

export type ReplayConfig = z.output<typeof replayConfigSchema>;
