import { setTimeout as sleep } from 'node:timers/promises';
import type { Counter } from '@opentelemetry/api';
import type { ComponentSettings, FlowConsumer, Receiver } from '../../pipeline/component.ts';
import { cloneBatch } from '../../pipeline/columns.ts';
import type { FlowBatch } from '../../pipeline/flow.ts';
import type { ReplayConfig } from './config.ts';
import { readFlowLog, type DamagedLine } from '../../exporters/flowlog/index.ts';

/** Damaged lines reported one by one in the log; past this, one summary line. */
const DAMAGED_LINES_LOGGED = 10;

/**
 * Replays a flow log: one recorded interval every `interval`, the first at once.
 * The file is read and checked once, at start(); each emitted batch is a fresh
 * copy, so downstream processors may change it.
 */
export class ReplayReceiver implements Receiver {
  readonly #settings: ComponentSettings;
  readonly #config: Readonly<ReplayConfig>;
  readonly #next: FlowConsumer;
  readonly #finished = Promise.withResolvers<void>();
  readonly #linesSkipped: Counter;
  #abort: AbortController | undefined;
  #running: Promise<void> | undefined;
  #batchesSent = 0;

  constructor(settings: ComponentSettings, config: ReplayConfig, next: FlowConsumer) {
    this.#settings = settings;
    this.#config = Object.freeze({ ...config });
    this.#next = next;
    this.#linesSkipped = settings.meter.createCounter('zonetap.receiver.replay.lines_skipped', { description: 'Damaged flow log lines skipped (torn by a full disk or a crash, or not flow records)' });
  }

  /** Settles when the last interval has been handed on (never with `loop: true` until shutdown). */
  get finished(): Promise<void> {
    return this.#finished.promise;
  }

  /** Batches handed to the next consumer so far. */
  get batchesSent(): number {
    return this.#batchesSent;
  }

  async start(): Promise<void> {
    const { batches: intervals, damaged } = await readFlowLog(this.#config.path);
    this.#reportDamaged(damaged);
    const records = intervals.reduce((n, b) => n + b.records.length, 0);
    this.#settings.logger.info({ path: this.#config.path, intervals: intervals.length, records, damagedLines: damaged.length }, 'replaying flow log');
    this.#abort = new AbortController();
    this.#running = this.#run(intervals, this.#abort.signal);
  }

  /** Each damaged line as `file:line` and why (the first few), and their count in self-telemetry. */
  #reportDamaged(damaged: readonly DamagedLine[]): void {
    const path = this.#config.path;
    for (const { line, problem } of damaged.slice(0, DAMAGED_LINES_LOGGED)) this.#settings.logger.warn({ line: `${path}:${line}`, problem }, `skipped damaged flow log line ${path}:${line}: ${problem}`);
    if (damaged.length > DAMAGED_LINES_LOGGED) this.#settings.logger.warn({ path, damagedLines: damaged.length }, `skipped ${damaged.length} damaged lines of ${path} in all (the first ${DAMAGED_LINES_LOGGED} are logged)`);
    this.#linesSkipped.add(damaged.length, { component_id: this.#settings.id });
  }

  async #run(intervals: FlowBatch[], signal: AbortSignal): Promise<void> {
    try {
      if (intervals.length === 0) return;
      // A loop moves timestamps forward by the span of the whole file, so that
      // consumers keeping cumulative totals see time and totals keep increasing.
      const first = intervals[0]!.start;
      const last = intervals.reduce((max, b) => Math.max(max, b.end), first);
      const span = Math.max(last - first, this.#config.interval);
      for (let pass = 0; !signal.aborted; pass++) {
        for (let i = 0; i < intervals.length; i++) {
          if (signal.aborted) return;
          const batch = cloneBatch(intervals[i]!);
          batch.start += pass * span;
          batch.end += pass * span;
          try {
            await this.#next.consume(batch);
          } catch (err) {
            this.#settings.logger.warn({ err, start: new Date(batch.start).toISOString() }, 'next consumer rejected a replayed batch');
          }
          this.#batchesSent++;
          const more = this.#config.loop || i < intervals.length - 1;
          if (!more) return;
          await sleep(this.#config.interval, undefined, { signal }).catch(() => undefined);
        }
        if (!this.#config.loop) return;
      }
    } finally {
      this.#finished.resolve();
    }
  }

  async shutdown(): Promise<void> {
    this.#abort?.abort();
    await this.#running;
    this.#finished.resolve();
  }
}
