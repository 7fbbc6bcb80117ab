import { READ_ONLY } from '../../pipeline/component.ts';
import type { ComponentSettings, Exporter } from '../../pipeline/component.ts';
import type { FlowBatch, TrafficClass } from '../../pipeline/flow.ts';
import type { FlowlogConfig } from './config.ts';
import { classOf } from '../../pipeline/columns.ts';
import { columnLines, flowLogTime, formatFlowLogLine } from './format.ts';
import { FileSink } from './file-sink.ts';
import { StdoutSink, type FlowLogSink } from './sink.ts';

/** Lines are handed to the sink in chunks of about this many characters. */
const CHUNK_CHARS = 1 << 20;

/**
 * Writes one JSON line per flow record (format.ts) to stdout or a file; a
 * batch of columns is written from its columns, without a record per row.
 * Batches are written in the order consume() was called; each batch becomes
 * one or a few large writes, all or nothing in a file (file-sink.ts): a batch
 * that fails (disk full) rejects consume(), so the service counts its records
 * as dropped, and leaves no torn line behind. shutdown() waits for pending
 * writes and fsyncs.
 */
export class FlowlogExporter implements Exporter {
  readonly capabilities = READ_ONLY;
  readonly #settings: ComponentSettings;
  readonly #path: string;
  readonly #classes: ReadonlySet<TrafficClass> | undefined;
  #sink: FlowLogSink | undefined;
  /** The last write in the chain; every write waits for the one before it. */
  #tail: Promise<void> = Promise.resolve();
  #warnedUnclassified = false;
  #linesWritten = 0;

  constructor(settings: ComponentSettings, config: FlowlogConfig) {
    this.#settings = settings;
    this.#path = config.path;
    this.#classes = config.classes ? new Set(config.classes) : undefined;
  }

  /** Lines written so far. */
  get linesWritten(): number {
    return this.#linesWritten;
  }

  async start(): Promise<void> {
    this.#sink =
      this.#path === 'stdout'
        ? new StdoutSink((err) => this.#settings.logger.error({ err }, 'cannot write flow log to stdout'))
        : await FileSink.open(this.#path, this.#settings.logger);
  }

  /**
   * Closes the flow log file and opens its path again, after the writes
   * already handed over. A configuration reload (SIGHUP) calls it so that a
   * logrotate `postrotate` signal takes effect at once; without it, the next
   * write notices the rotation by itself. Nothing to do for stdout.
   */
  reopen(): Promise<void> {
    const sink = this.#sink;
    if (!(sink instanceof FileSink)) return Promise.resolve();
    const reopened = this.#tail.then(() => sink.reopen());
    this.#tail = reopened.catch(() => undefined);
    return reopened;
  }

  consume(batch: FlowBatch): Promise<void> {
    if (!this.#sink) return Promise.reject(new Error(`flowlog exporter "${this.#settings.id}" is not running`));
    const chunks = this.#format(batch);
    const sink = this.#sink;
    const written = this.#tail.then(async () => {
      if (chunks.length === 0) return;
      await sink.write(chunks.map((c) => c.text));
      for (const chunk of chunks) this.#linesWritten += chunk.lines;
    });
    this.#tail = written.catch(() => undefined);
    return written;
  }

  /** Formats the batch into chunks of lines, each ending with a newline; columns straight from the columns. */
  #format(batch: FlowBatch): { text: string; lines: number }[] {
    const start = flowLogTime(batch.start);
    const end = flowLogTime(batch.end);
    const chunks: { text: string; lines: number }[] = [];
    let lines: string[] = [];
    let chars = 0;
    const add = (line: string) => {
      lines.push(line);
      chars += line.length + 1;
      if (chars >= CHUNK_CHARS) {
        chunks.push({ text: lines.join('\n') + '\n', lines: lines.length });
        lines = [];
        chars = 0;
      }
    };
    const columns = batch.columns;
    if (columns !== undefined) {
      const lineOf = columnLines(start, end, columns);
      for (let i = 0; i < columns.length; i++) if (this.#writes(classOf(columns.trafficClass[i]!))) add(lineOf(i));
    } else {
      for (const record of batch.records) if (this.#writes(record.trafficClass)) add(formatFlowLogLine(start, end, record));
    }
    if (lines.length > 0) chunks.push({ text: lines.join('\n') + '\n', lines: lines.length });
    return chunks;
  }

  /** Whether a record of `trafficClass` is written (`classes`). */
  #writes(trafficClass: TrafficClass | undefined): boolean {
    if (!this.#classes) return true;
    if (trafficClass === undefined) {
      this.#warnUnclassified();
      return false;
    }
    return this.#classes.has(trafficClass);
  }

  #warnUnclassified(): void {
    if (this.#warnedUnclassified) return;
    this.#warnedUnclassified = true;
    this.#settings.logger.warn('`classes` is set but records carry no traffic class and are not written: put processors/crosszone before this exporter');
  }

  async shutdown(): Promise<void> {
    await this.#tail;
    const sink = this.#sink;
    this.#sink = undefined;
    await sink?.close();
  }
}
