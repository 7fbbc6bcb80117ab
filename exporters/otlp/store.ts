/**
 * The OTLP exporter's cumulative totals: exporters/series's FlowStore
 * (per attribute set, TTL expiry, cardinality cap with an overflow series)
 * plus delivery tracking. A push exporter must not forget a series whose
 * latest total has not reached the backend yet, so an idle series expires only
 * once its latest change was delivered: a long gateway outage never loses the
 * last increments of a finished flow.
 */
import { recordAttributes, type FlowAttributes } from '../../pipeline/attributes.ts';
import type { FlowBatch } from '../../pipeline/flow.ts';
import { FlowStore, type FlowSeries } from '../series/index.ts';

export type { FlowSeries };

/** Attribute set that absorbs flows once `maxSeries` is reached, as the OpenTelemetry SDK does. */
export const OVERFLOW_ATTRIBUTES: FlowAttributes = Object.freeze({ 'otel.metric.overflow': true });

export interface FlowTotalsOptions {
  ttlMs: number;
  maxSeries: number;
  now?: () => number;
}

/** What a snapshot held: each series with its update count at that moment. */
export type SnapshotMarks = ReadonlyMap<Readonly<FlowSeries>, number>;

export class FlowTotals {
  readonly #store: FlowStore;
  readonly #now: () => number;
  /** Update count of each series as of its last delivered snapshot. */
  readonly #delivered = new WeakMap<Readonly<FlowSeries>, number>();

  constructor(options: FlowTotalsOptions) {
    this.#store = new FlowStore({ ttlMs: options.ttlMs, maxSeries: options.maxSeries, overflowAttributes: OVERFLOW_ATTRIBUTES });
    this.#now = options.now ?? Date.now;
  }

  /** Series held, the overflow series included. */
  get size(): number {
    return this.#store.size + (this.#store.overflowSeries ? 1 : 0);
  }

  /** Records folded into the overflow series because the store was full. */
  get overflowRecords(): number {
    return this.#store.overflowRecords;
  }

  /** Adds every record of the batch to its series' totals. */
  add(batch: FlowBatch): void {
    const now = this.#now();
    for (const record of batch.records) {
      const attributes = recordAttributes(record);
      // recordAttributes writes keys in one fixed order, so the JSON text is a canonical key.
      this.#store.add(attributes, record.bytes, record.packets, record.costUsd, now, JSON.stringify(attributes));
    }
  }

  /**
   * Forgets delivered series idle for longer than the TTL, then returns the
   * rest (every live series, the overflow series last: cumulative export
   * repeats the unchanged ones too) and the marks that `delivered()` takes once they arrived.
   */
  snapshot(): { series: Readonly<FlowSeries>[]; seq: SnapshotMarks } {
    this.#store.expire(this.#now(), (s) => (this.#delivered.get(s) ?? -1) < s.updates);
    const series = [...this.#store.series()];
    return { series, seq: new Map(series.map((s) => [s, s.updates])) };
  }

  /** Marks the totals of these series, as of the snapshot with marks `seq`, as delivered. */
  delivered(series: readonly Readonly<FlowSeries>[], seq: SnapshotMarks): void {
    for (const s of series) {
      const updates = seq.get(s);
      if (updates !== undefined && (this.#delivered.get(s) ?? -1) < updates) this.#delivered.set(s, updates);
    }
  }
}
