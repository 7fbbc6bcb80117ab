/** Where flow log text goes: the process's stdout, or a file (file-sink.ts). */
import { once } from 'node:events';

export interface FlowLogSink {
  /**
   * Writes the chunks (whole lines, each ending with a newline) in order;
   * resolves when the OS has them (file) or the stream has taken them (stdout).
   */
  write(chunks: readonly string[]): Promise<void>;
  /** Makes what was written durable (fsync for files, drained for stdout) and releases the sink. */
  close(): Promise<void>;
}

/** Writes to process.stdout with back-pressure; never closes it. */
export class StdoutSink implements FlowLogSink {
  readonly #stream: typeof process.stdout;
  readonly #onError: (err: Error) => void;

  /** `onError` gets stream errors (EPIPE when the reader went away) instead of crashing the process. */
  constructor(onError: (err: Error) => void) {
    this.#stream = process.stdout;
    this.#onError = onError;
    this.#stream.on('error', this.#onError);
  }

  async write(chunks: readonly string[]): Promise<void> {
    for (const text of chunks) {
      if (this.#stream.destroyed) throw new Error('stdout is closed');
      if (!this.#stream.write(text)) await once(this.#stream, 'drain');
    }
  }

  async close(): Promise<void> {
    try {
      if (this.#stream.writableNeedDrain && !this.#stream.destroyed) await once(this.#stream, 'drain');
    } finally {
      this.#stream.off('error', this.#onError);
    }
  }
}
