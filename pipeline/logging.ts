/**
 * zonetap's own log: pino on stderr (stdout stays free for data, e.g.
 * flowlog's `stdout`), encoded as service.telemetry.logs.encoding says:
 * `json`, one JSON object a line for log collectors, or `console`, one
 * human-readable line each for a terminal (pino-pretty; coloured when stderr
 * is a terminal). The encoding can change while running (a reload), so the
 * logger writes to a LogOutput that encodes each line as currently set.
 */
import { isatty } from 'node:tty';
import { pino } from 'pino';
import type { Logger } from 'pino';
import type { LogEncoding, LogLevel } from './config/types.ts';

type Prettify = (line: string) => string;

/** Where the logger's lines go: stderr, written synchronously so lines written just before exit (shutdown, forced exit) are not lost. */
export class LogOutput {
  #encoding: LogEncoding = 'json';
  #prettify: Prettify | undefined;
  /** sonic-boom, synchronous: it retries a full pipe (EAGAIN) where a bare writeSync would throw. */
  readonly #stderr = pino.destination({ dest: 2, sync: true });

  get encoding(): LogEncoding {
    return this.#encoding;
  }

  /** Switches the encoding of every later line; `console` loads pino-pretty the first time. */
  async use(encoding: LogEncoding): Promise<void> {
    if (encoding === 'console' && !this.#prettify) {
      const { prettyFactory } = await import('pino-pretty');
      this.#prettify = prettyFactory({ colorize: isatty(2), singleLine: true, ignore: 'pid,hostname', translateTime: 'UTC:yyyy-mm-dd HH:MM:ss.l' });
    }
    this.#encoding = encoding;
  }

  /** pino's stream contract: one serialized JSON line at a time. */
  write(line: string): void {
    this.#stderr.write(this.#encoding === 'console' ? this.#prettify!(line) : line);
  }
}

export function createLogger(level: LogLevel, output: LogOutput = new LogOutput()): Logger {
  return pino(
    {
      level,
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    output,
  );
}
