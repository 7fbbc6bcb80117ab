/**
 * Cumulative flow totals per attribute set, owned by zonetap rather than the
 * OpenTelemetry SDK (whose instruments keep every attribute set forever, see
 * DESIGN.md "Known traps"). A series starts when its attribute set is first
 * seen, is delivered with every export, and is forgotten once it has been idle
 * for `ttl` AND its latest total has been delivered, so a long gateway outage
 * never loses the last increments of a finished flow.
 */
import { recordAttributes, type FlowAttributes } from '../../pipeline/attributes.ts';
import type { FlowBatch } from '../../pipeline/flow.ts';

/** Attribute set that absorbs flows once `maxSeries` is reached, as the OpenTelemetry SDK does. */
export const OVERFLOW_ATTRIBUTES: FlowAttributes = Object.freeze({ 'otel.metric.overflow': true });

export interface FlowSeries {
  readonly attributes: FlowAttributes;
  /** Epoch ms when the series was first seen: the start time of its cumulative points. */
  readonly startMs: number;
  bytes: number;
  packets: number;
  costUsd: number;
  hasCost: boolean;
  /** Epoch ms of the last batch that touched the series. */
  updatedMs: number;
  /** Store sequence number of the last change, and of the change last delivered. */
  updatedSeq: number;
  deliveredSeq: number;
}

export interface FlowTotalsOptions {
  ttlMs: number;
  maxSeries: number;
  now?: () => number;
}

export class FlowTotals {
  readonly #series = new Map<string, FlowSeries>();
  readonly #ttlMs: number;
  readonly #maxSeries: number;
  readonly #now: () => number;
  #seq = 0;
  /** Records folded into the overflow series because the store was full. */
  overflowRecords = 0;

  constructor(options: FlowTotalsOptions) {
    this.#ttlMs = options.ttlMs;
    this.#maxSeries = options.maxSeries;
    this.#now = options.now ?? Date.now;
  }

  get size(): number {
    return this.#series.size;
  }

  /** Adds every record of the batch to its series' totals. */
  add(batch: FlowBatch): void {
    const now = this.#now();
    const seq = ++this.#seq;
    for (const record of batch.records) {
      const attributes = recordAttributes(record);
      // recordAttributes writes keys in one fixed order, so the JSON text is a canonical key.
      let key = JSON.stringify(attributes);
      let series = this.#series.get(key);
      if (!series) {
        if (this.#series.size >= this.#maxSeries) {
          this.overflowRecords++;
          key = OVERFLOW_KEY;
          series = this.#series.get(key);
        }
        if (!series) {
          series = { attributes: key === OVERFLOW_KEY ? OVERFLOW_ATTRIBUTES : attributes, startMs: now, bytes: 0, packets: 0, costUsd: 0, hasCost: false, updatedMs: now, updatedSeq: 0, deliveredSeq: 0 };
          this.#series.set(key, series);
        }
      }
      series.bytes += record.bytes;
      series.packets += record.packets;
      if (record.costUsd !== undefined) {
        series.costUsd += record.costUsd;
        series.hasCost = true;
      }
      series.updatedMs = now;
      series.updatedSeq = seq;
    }
  }

  /**
   * Forgets delivered series idle for longer than the TTL, then returns the
   * rest (every live series: cumulative export repeats the unchanged ones too)
   * and the sequence number that `delivered()` takes once they arrived.
   */
  snapshot(): { series: FlowSeries[]; seq: number } {
    const cutoff = this.#now() - this.#ttlMs;
    const out: FlowSeries[] = [];
    for (const [key, s] of this.#series) {
      if (s.updatedMs < cutoff && s.deliveredSeq >= s.updatedSeq) this.#series.delete(key);
      else out.push(s);
    }
    return { series: out, seq: this.#seq };
  }

  /** Marks the totals of these series, as of snapshot `seq`, as delivered. */
  delivered(series: readonly FlowSeries[], seq: number): void {
    for (const s of series) if (s.deliveredSeq < seq) s.deliveredSeq = seq;
  }
}

const OVERFLOW_KEY = '\u0000overflow';
