/** Where flow log text goes: the process's stdout, or a file opened for appending. */
import { once } from 'node:events';
import { open, type FileHandle } from 'node:fs/promises';

export interface FlowLogSink {
  /** Writes all of `text`; resolves when the OS has it (file) or the stream has taken it (stdout). */
  write(text: string): Promise<void>;
  /** Makes what was written durable (fsync for files, drained for stdout) and releases the sink. */
  close(): Promise<void>;
}

/** Appends to a file; close() fsyncs before closing. */
export class FileSink implements FlowLogSink {
  readonly #file: FileHandle;

  private constructor(file: FileHandle) {
    this.#file = file;
  }

  static async open(path: string): Promise<FileSink> {
    try {
      return new FileSink(await open(path, 'a'));
    } catch (err) {
      throw new Error(`cannot open flow log "${path}" for appending: ${(err as Error).message}`, { cause: err });
    }
  }

  async write(text: string): Promise<void> {
    await this.#file.appendFile(text, 'utf8');
  }

  async close(): Promise<void> {
    try {
      await this.#file.sync();
    } finally {
      await this.#file.close();
    }
  }
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

  async write(text: string): Promise<void> {
    if (this.#stream.destroyed) throw new Error('stdout is closed');
    if (!this.#stream.write(text)) await once(this.#stream, 'drain');
  }

  async close(): Promise<void> {
    try {
      if (this.#stream.writableNeedDrain && !this.#stream.destroyed) await once(this.#stream, 'drain');
    } finally {
      this.#stream.off('error', this.#onError);
    }
  }
}
