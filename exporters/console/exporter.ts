import { READ_ONLY } from '../../pipeline/component.ts';
import type { ComponentSettings, Exporter } from '../../pipeline/component.ts';
import type { FlowBatch } from '../../pipeline/flow.ts';
import type { ConsoleConfig } from './config.ts';
import { addTotals, addTraffic, emptyTotals, perSecond, sampleOf, type TrafficTotals } from './traffic.ts';
import { frame, renderTrafficView } from './view.ts';

/** Rates are over this many refresh periods: one alone jitters when batches arrive less often than the view refreshes. */
const RATE_PERIODS = 3;

/** Where the view goes: process.stdout, or a stream a test reads. */
export interface ConsoleOutput {
  write(text: string): boolean;
  readonly isTTY?: boolean;
  readonly writableNeedDrain?: boolean;
  readonly destroyed?: boolean;
  on(event: 'error', listener: (err: Error) => void): unknown;
  off(event: 'error', listener: (err: Error) => void): unknown;
}

/** Traffic received during one refresh period, and the span of flow time it covers. */
interface Period {
  totals: TrafficTotals;
  records: number;
  /** Earliest batch start and latest batch end, ms since the epoch (flow time, not arrival time). */
  start: number;
  end: number;
}

const emptyPeriod = (): Period => ({ totals: emptyTotals(), records: 0, start: Infinity, end: -Infinity });
const utc = (ms: number) => new Date(ms).toISOString().slice(0, 19).replace('T', ' ');

/**
 * Renders the live view from the flow records it is given, every `interval`,
 * like the Collector's `debug` exporter prints what reaches it. Rates are the
 * bytes of the last three periods over the flow time their batches cover
 * (batch start to end), so a replayed flow log shows the recorded rates
 * whatever its replay pace. Zones are every zone seen since start, so the
 * matrix keeps its shape. A refresh that the output cannot take (a stalled
 * terminal or pipe) is skipped, never queued.
 */
export class ConsoleExporter implements Exporter {
  readonly capabilities = READ_ONLY;
  readonly #settings: ComponentSettings;
  readonly #config: Readonly<ConsoleConfig>;
  readonly #out: ConsoleOutput;
  readonly #onError = (err: Error) => this.#settings.logger.warn({ err }, 'cannot write the console view');
  /** Every zone seen since start. */
  readonly #zones = new Set<string>();
  #periods: Period[] = [];
  #current: Period = emptyPeriod();
  #timer: NodeJS.Timeout | undefined;

  constructor(settings: ComponentSettings, config: ConsoleConfig, out: ConsoleOutput) {
    this.#settings = settings;
    this.#config = Object.freeze({ ...config });
    this.#out = out;
  }

  async start(): Promise<void> {
    this.#out.on('error', this.#onError);
    this.#timer = setInterval(() => this.refresh(), this.#config.interval);
    this.#timer.unref();
  }

  async consume(batch: FlowBatch): Promise<void> {
    const period = this.#current;
    for (const record of batch.records) {
      addTraffic(period.totals, sampleOf(record));
      if (record.src.zone) this.#zones.add(record.src.zone);
      if (record.dst.zone) this.#zones.add(record.dst.zone);
    }
    period.records += batch.records.length;
    period.start = Math.min(period.start, batch.start);
    period.end = Math.max(period.end, batch.end);
  }

  /** Ends the current period and writes the view (the timer calls it every `interval`). */
  refresh(): void {
    this.#periods.push(this.#current);
    this.#current = emptyPeriod();
    if (this.#periods.length > RATE_PERIODS) this.#periods.shift();
    // A stalled reader skips this refresh; a closed one (EPIPE, logged once by #onError) all the rest.
    if (this.#out.writableNeedDrain || this.#out.destroyed) return;
    this.#out.write(frame(this.render(), this.#out.isTTY === true));
  }

  /** The view over the last periods, as refresh() writes it. */
  render(): string {
    const totals = emptyTotals();
    let records = 0;
    let start = Infinity;
    let end = -Infinity;
    for (const p of this.#periods) {
      addTotals(totals, p.totals);
      records += p.records;
      start = Math.min(start, p.start);
      end = Math.max(end, p.end);
    }
    const zones = [...this.#zones].sort();
    // Batches without a span (start = end) cannot give a rate of their own: use the time they were received in.
    const seconds = end > start ? (end - start) / 1000 : (this.#periods.length * this.#config.interval) / 1000;
    const when = records > 0 ? `flows of ${utc(start)} to ${utc(end).slice(11)} UTC, ${records} records` : 'no flows in the last refreshes';
    const header = `zonetap · console exporter "${this.#settings.id}" · ${zones.length} zones · ${when}`;
    return `${header}\n\n${renderTrafficView(perSecond(totals, seconds), { zones, top: this.#config.top })}`;
  }

  async shutdown(): Promise<void> {
    clearInterval(this.#timer);
    this.#out.off('error', this.#onError);
  }
}
