/**
 * The OTLP exporter's flow totals: exporters/series's FlowStore (per
 * attribute set, TTL expiry, cardinality cap with an overflow series) plus
 * what the backend acknowledged of each series. A push exporter must not
 * forget a series whose latest counts have not reached the backend yet, so an
 * idle series expires only once its latest change was acknowledged: a long
 * gateway outage never loses the last increments of a finished flow.
 *
 * A snapshot turns the series into export points in one of two temporalities:
 * - cumulative: every live series, its totals since it started (start time =
 *   when the series was first seen);
 * - delta: only series with counts not yet acknowledged, each with what was
 *   counted since its last acknowledged export, the start time being the time
 *   of that export (or when the series was first seen). Until an export is
 *   acknowledged its window stays open: a re-sent point has the same start
 *   time, a later time and a value that includes what it carried before, so
 *   the gateway applies only the difference (receivers/otlp/streams.ts).
 */
import { recordAttributes, recordKey, type FlowAttributes } from '../../pipeline/attributes.ts';
import type { FlowBatch } from '../../pipeline/flow.ts';
import { FlowStore, type FlowSeries } from '../series/index.ts';

export type { FlowSeries };

export type Temporality = 'cumulative' | 'delta';

/** Attribute set that absorbs flows once `maxSeries` is reached, as the OpenTelemetry SDK does. */
export const OVERFLOW_ATTRIBUTES: FlowAttributes = Object.freeze({ 'otel.metric.overflow': true });

/** One series' data point as exported: values copied at snapshot time. */
export interface FlowPoint {
  readonly attributes: Readonly<FlowAttributes>;
  /** Start of the point's interval, ms since the epoch. */
  readonly startTime: number;
  readonly bytes: number;
  readonly packets: number;
  readonly costUsd: number | undefined;
}

/** A point of a snapshot, with what `acknowledge()` needs: its series and the series' totals at that moment. */
export interface SnapshotPoint extends FlowPoint {
  readonly series: Readonly<FlowSeries>;
  readonly updates: number;
  readonly totalBytes: number;
  readonly totalPackets: number;
  readonly totalCostUsd: number | undefined;
}

/** The totals of a series the backend acknowledged, and when (the start of its next delta window). */
interface Acknowledged {
  updates: number;
  bytes: number;
  packets: number;
  costUsd: number;
  atMs: number;
}

export interface FlowTotalsOptions {
  ttlMs: number;
  maxSeries: number;
  /** The clock for series start times and expiry (ms since the epoch); the exporter passes a monotonic one. */
  now?: () => number;
}

export class FlowTotals {
  readonly #store: FlowStore;
  readonly #now: () => number;
  readonly #acknowledged = new WeakMap<Readonly<FlowSeries>, Acknowledged>();

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
    // The attributes are built only for a new series: a batch of an interval
    // handed on in chunks repeats its series in every chunk.
    for (const record of batch.records) this.#store.addKeyed(recordKey(record), record, recordAttributes, record.bytes, record.packets, record.costUsd, now);
  }

  /**
   * Forgets acknowledged series idle for longer than the TTL, then returns the
   * points to export (the overflow series last), which `acknowledge()` takes
   * once they arrived. Cumulative: every live series (unchanged ones are
   * repeated). Delta: series changed since their last acknowledged export.
   */
  snapshot(temporality: Temporality): SnapshotPoint[] {
    this.#store.expire(this.#now(), (s) => (this.#acknowledged.get(s)?.updates ?? -1) < s.updates);
    const points: SnapshotPoint[] = [];
    const delta = temporality === 'delta';
    for (const s of this.#store.series()) {
      const acked = delta ? this.#acknowledged.get(s) : undefined;
      if (acked !== undefined && acked.updates >= s.updates) continue;
      points.push({
        attributes: s.attributes,
        startTime: acked?.atMs ?? s.startTime,
        bytes: s.bytes - (acked?.bytes ?? 0),
        packets: s.packets - (acked?.packets ?? 0),
        costUsd: s.costUsd === undefined ? undefined : s.costUsd - (acked?.costUsd ?? 0),
        series: s,
        updates: s.updates,
        totalBytes: s.bytes,
        totalPackets: s.packets,
        totalCostUsd: s.costUsd,
      });
    }
    return points;
  }

  /**
   * Marks the totals of these points (from one snapshot) as acknowledged by
   * an export sent at `exportMs`: the next delta window of each starts there.
   */
  acknowledge(points: readonly SnapshotPoint[], exportMs: number): void {
    for (const p of points) {
      const acked = this.#acknowledged.get(p.series);
      if (acked === undefined) {
        this.#acknowledged.set(p.series, { updates: p.updates, bytes: p.totalBytes, packets: p.totalPackets, costUsd: p.totalCostUsd ?? 0, atMs: exportMs });
      } else if (acked.updates < p.updates) {
        acked.updates = p.updates;
        acked.bytes = p.totalBytes;
        acked.packets = p.totalPackets;
        acked.costUsd = p.totalCostUsd ?? 0;
        acked.atMs = exportMs;
      }
    }
  }
}
