/** zonetap's own log: pino, one JSON object per line on stderr (stdout stays free for data, e.g. flowlog's `stdout`). */
import { pino } from 'pino';
import type { Logger } from 'pino';
import type { LogLevel } from './config/types.ts';

export function createLogger(level: LogLevel): Logger {
  return pino(
    {
      level,
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    // Synchronous: lines written just before exit (shutdown, forced exit) are not lost.
    pino.destination({ dest: 2, sync: true }),
  );
}
