/**
 * A flow log file: appended to in whole batches, created readable by owner
 * and group only, and reopened when logrotate moves it away.
 *
 * Whole lines only: a write the disk cannot take (ENOSPC, EIO, a quota) may
 * have put part of a batch in the file; that part is cut off again, so the
 * file ends where the last whole batch ended. If it cannot be cut off, the
 * next batch starts on a new line, so the torn piece stays one damaged line
 * (which `replay` skips and reports) instead of swallowing the next record.
 * The same holds for a file that a crash left without its final newline.
 *
 * Rotation: before each batch, the path is compared with the open file
 * (device and inode). When logrotate renamed it (and maybe created a new
 * one), the path is opened again. `copytruncate` needs nothing: the file is
 * opened for appending, so writes land at its new end.
 */
import { open, stat, type FileHandle } from 'node:fs/promises';
import type { Logger } from 'pino';
import type { FlowLogSink } from './sink.ts';

/**
 * Mode of a flow log the exporter creates: it holds pod names and addresses.
 * The umask can only take bits away, so the file is never more open than this.
 */
export const FLOW_LOG_MODE = 0o640;

const NEWLINE = Buffer.from('\n');

export class FileSink implements FlowLogSink {
  readonly #path: string;
  readonly #logger: Logger;
  #file: FileHandle;
  #identity: { dev: number; ino: number };
  /** The file does not end with a newline: the next write starts with one. */
  #torn: boolean;
  #reopenFailed = false;

  private constructor(path: string, logger: Logger, file: FileHandle, identity: { dev: number; ino: number }, torn: boolean) {
    this.#path = path;
    this.#logger = logger;
    this.#file = file;
    this.#identity = identity;
    this.#torn = torn;
  }

  static async open(path: string, logger: Logger): Promise<FileSink> {
    try {
      const { file, identity, torn } = await openForAppend(path);
      return new FileSink(path, logger, file, identity, torn);
    } catch (err) {
      throw new Error(`cannot open flow log "${path}" for appending: ${(err as Error).message}`, { cause: err });
    }
  }

  /** Appends the chunks, all or nothing (see the file comment for what "nothing" can leave behind). */
  async write(chunks: readonly string[]): Promise<void> {
    await this.#followRotation();
    const buffers = chunks.map((c) => Buffer.from(c, 'utf8'));
    if (this.#torn) buffers.unshift(NEWLINE);
    let written = 0;
    try {
      for (const buffer of buffers) {
        for (let offset = 0; offset < buffer.length; ) {
          const { bytesWritten } = await this.#file.write(buffer, offset, buffer.length - offset);
          offset += bytesWritten;
          written += bytesWritten;
        }
      }
      if (written > 0) this.#torn = false;
    } catch (err) {
      await this.#takeBack(written);
      throw err;
    }
  }

  /**
   * Closes the file and opens the path again (creating it if it is gone).
   * For a configuration reload or a SIGHUP from logrotate's `postrotate`;
   * writes reopen by themselves when the path no longer names the open file.
   */
  async reopen(): Promise<void> {
    const next = await openForAppend(this.#path);
    const previous = this.#file;
    this.#file = next.file;
    this.#identity = next.identity;
    this.#torn = next.torn;
    try {
      await previous.sync();
    } finally {
      await previous.close();
    }
  }

  async close(): Promise<void> {
    try {
      await this.#file.sync();
    } finally {
      await this.#file.close();
    }
  }

  /** Cuts off the `written` bytes of a failed batch; when that fails, marks the file torn. */
  async #takeBack(written: number): Promise<void> {
    if (written === 0) return;
    try {
      const { size } = await this.#file.stat();
      if (size >= written) {
        await this.#file.truncate(size - written);
        return;
      }
    } catch (err) {
      this.#logger.warn({ err, path: this.#path }, 'cannot cut a partly written batch off the flow log: the next batch starts on a new line');
    }
    this.#torn = true;
  }

  async #followRotation(): Promise<void> {
    let current: { dev: number; ino: number } | undefined;
    try {
      current = await stat(this.#path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') return;
    }
    if (current && current.dev === this.#identity.dev && current.ino === this.#identity.ino) return;
    try {
      await this.reopen();
      this.#reopenFailed = false;
      this.#logger.info({ path: this.#path }, 'flow log was moved away (rotated): writing to a new file at its path');
    } catch (err) {
      // Lines still go to the moved file; the next write tries again.
      if (!this.#reopenFailed) this.#logger.error({ err, path: this.#path }, 'flow log was moved away and cannot be created again: still writing to the moved file');
      this.#reopenFailed = true;
    }
  }
}

/** Opens (creating with FLOW_LOG_MODE) for appending; `torn` when the file does not end with a newline. */
async function openForAppend(path: string): Promise<{ file: FileHandle; identity: { dev: number; ino: number }; torn: boolean }> {
  const file = await open(path, 'a+', FLOW_LOG_MODE);
  try {
    const { dev, ino, size } = await file.stat();
    let torn = false;
    if (size > 0) {
      const last = Buffer.alloc(1);
      await file.read(last, 0, 1, size - 1);
      torn = last[0] !== NEWLINE[0];
    }
    return { file, identity: { dev, ino }, torn };
  } catch (err) {
    await file.close();
    throw err;
  }
}
