/**
 * Cumulative flow totals per attribute set, with expiry and a cardinality cap.
 *
 * Exporters that publish cumulative sums (Prometheus, OTLP) keep their state
 * here instead of in @opentelemetry/sdk-metrics, which keeps every attribute
 * set forever under cumulative temporality (it has no delete API). A series
 * that has not been updated for `ttlMs` is removed; when `maxSeries` series
 * exist, records with a new attribute set are added to one overflow series
 * instead, so totals are conserved and the loss of detail is counted.
 */
import type { AttributeValue } from '../../pipeline/attributes.ts';

/** Attributes that identify a series. Values are kept by reference: callers MUST NOT change them after add(). */
export type SeriesAttributes = Readonly<Record<string, AttributeValue>>;

/** One series: running totals since `startTime`. */
export interface FlowSeries {
  readonly key: string;
  readonly attributes: SeriesAttributes;
  bytes: number;
  packets: number;
  /** Undefined until a record with a cost was added. */
  costUsd: number | undefined;
  /** When the series was created (ms since epoch): the start of its cumulative totals. */
  readonly startTime: number;
  /** When a record was last added (ms since epoch). */
  lastUpdated: number;
  /** How many records were added: tells a change apart from another in the same millisecond. */
  updates: number;
}

export interface FlowStoreOptions {
  /** A series not updated for this long is removed by expire(). */
  ttlMs: number;
  /** Most series kept, not counting the overflow series. */
  maxSeries: number;
  /** Attributes of the series that collects records past `maxSeries`. */
  overflowAttributes: SeriesAttributes;
}

/** What add() did with a record. */
export type AddResult = 'created' | 'updated' | 'overflow';

/**
 * A canonical key for an attribute set: equal sets give equal keys whatever
 * the order of their properties.
 */
export function seriesKey(attributes: SeriesAttributes): string {
  const names = Object.keys(attributes).sort();
  let key = '';
  for (const name of names) key += `${name}\u0000${String(attributes[name])}\u0001`;
  return key;
}

export class FlowStore {
  readonly #options: FlowStoreOptions;
  readonly #series = new Map<string, FlowSeries>();
  #overflow: FlowSeries | undefined;
  #overflowRecords = 0;
  #expiredSeries = 0;

  constructor(options: FlowStoreOptions) {
    if (!(options.ttlMs > 0)) throw new RangeError(`ttlMs must be positive, got ${options.ttlMs}`);
    if (!(Number.isInteger(options.maxSeries) && options.maxSeries > 0)) throw new RangeError(`maxSeries must be a positive integer, got ${options.maxSeries}`);
    this.#options = Object.freeze({ ...options });
  }

  /**
   * Adds one record's bytes, packets and cost (a delta) to the series of
   * `attributes`. `key` MAY be given when the caller already built a canonical
   * key (same set -> same key); it defaults to seriesKey(attributes).
   */
  add(attributes: SeriesAttributes, bytes: number, packets: number, costUsd: number | undefined, now: number, key: string = seriesKey(attributes)): AddResult {
    return this.addKeyed(key, attributes, identity, bytes, packets, costUsd, now);
  }

  /**
   * As add(), for callers that derive attributes from something else (a flow
   * record): `attributesOf(source)` is called only when a new series is made,
   * so updates of known series build no attribute object. `key` MUST be equal
   * for two sources exactly when their attribute sets are equal.
   */
  addKeyed<S>(key: string, source: S, attributesOf: (source: S) => SeriesAttributes, bytes: number, packets: number, costUsd: number | undefined, now: number): AddResult {
    let series = this.#series.get(key);
    let result: AddResult = 'updated';
    if (series === undefined) {
      if (this.#series.size >= this.#options.maxSeries) {
        this.#overflowRecords++;
        series = this.#overflow ??= newSeries('', this.#options.overflowAttributes, now);
        result = 'overflow';
      } else {
        series = newSeries(key, attributesOf(source), now);
        this.#series.set(key, series);
        result = 'created';
      }
    }
    series.bytes += bytes;
    series.packets += packets;
    if (costUsd !== undefined) series.costUsd = (series.costUsd ?? 0) + costUsd;
    series.lastUpdated = now;
    series.updates++;
    return result;
  }

  /**
   * Removes series (the overflow series too) not updated since `now - ttlMs`,
   * except those `keep` holds on to (e.g. a push exporter's undelivered totals);
   * returns how many.
   */
  expire(now: number, keep: (series: Readonly<FlowSeries>) => boolean = never): number {
    const oldest = now - this.#options.ttlMs;
    let removed = 0;
    for (const [key, series] of this.#series) {
      if (series.lastUpdated < oldest && !keep(series)) {
        this.#series.delete(key);
        removed++;
      }
    }
    if (this.#overflow && this.#overflow.lastUpdated < oldest && !keep(this.#overflow)) {
      this.#overflow = undefined;
      removed++;
    }
    this.#expiredSeries += removed;
    return removed;
  }

  /** Every live series, the overflow series last. Do not add() while iterating. */
  *series(): IterableIterator<Readonly<FlowSeries>> {
    yield* this.#series.values();
    if (this.#overflow) yield this.#overflow;
  }

  /** Series kept, not counting the overflow series. */
  get size(): number {
    return this.#series.size;
  }

  get overflowSeries(): Readonly<FlowSeries> | undefined {
    return this.#overflow;
  }

  /** Records added to the overflow series since the store was made. */
  get overflowRecords(): number {
    return this.#overflowRecords;
  }

  /** Series removed by expire() since the store was made. */
  get expiredSeries(): number {
    return this.#expiredSeries;
  }

  clear(): void {
    this.#series.clear();
    this.#overflow = undefined;
  }
}

const identity = (attributes: SeriesAttributes) => attributes;
const never = () => false;

function newSeries(key: string, attributes: SeriesAttributes, now: number): FlowSeries {
  return { key, attributes, bytes: 0, packets: 0, costUsd: undefined, startTime: now, lastUpdated: now, updates: 0 };
}
