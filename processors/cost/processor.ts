import type { ComponentSettings, FlowConsumer, Processor } from '../../pipeline/component.ts';
import type { FlowBatch, FlowRecord, TrafficClass } from '../../pipeline/flow.ts';
import type { CostConfig } from './config.ts';
import { BUILT_IN_PRICES, BYTES_PER_GB, type ClassPrices } from './prices.ts';

/**
 * Sets `costUsd = bytes / 10^9 * price` on every record, the price chosen by
 * traffic class and, for cross_region flows, by (source region, destination
 * region) when `region_pairs` lists the pair. Records without a class cost 0
 * (put processors/crosszone first; a warning says so once).
 */
export class CostProcessor implements Processor {
  readonly #settings: ComponentSettings;
  readonly #next: FlowConsumer;
  readonly #prices: Readonly<ClassPrices>;
  /** `from\0to` -> USD per GB, both directions filled in where only one was given. */
  readonly #pairs: ReadonlyMap<string, number>;
  #warnedUnclassified = false;

  constructor(settings: ComponentSettings, config: CostConfig, next: FlowConsumer) {
    this.#settings = settings;
    this.#next = next;
    const base = config.provider === 'custom' ? { same_zone: 0, cross_zone: 0, cross_region: 0, internet: 0, unknown: 0 } : BUILT_IN_PRICES[config.provider];
    const prices = { ...base };
    for (const [cls, price] of Object.entries(config.prices) as [TrafficClass, number | undefined][]) if (price !== undefined) prices[cls] = price;
    this.#prices = Object.freeze(prices);
    const pairs = new Map<string, number>();
    for (const p of config.region_pairs) pairs.set(`${p.from}\u0000${p.to}`, p.price);
    for (const p of config.region_pairs) {
      const reverse = `${p.to}\u0000${p.from}`;
      if (!pairs.has(reverse)) pairs.set(reverse, p.price);
    }
    this.#pairs = pairs;
  }

  /** The price table in use, after overrides (USD per GB). */
  get prices(): Readonly<ClassPrices> {
    return this.#prices;
  }

  async start(): Promise<void> {}

  /** USD per GB for one record. */
  priceOf(record: FlowRecord): number {
    const cls = record.trafficClass;
    if (cls === undefined) return 0;
    if (cls === 'cross_region' && this.#pairs.size > 0 && record.src.region && record.dst.region) {
      const pair = this.#pairs.get(`${record.src.region}\u0000${record.dst.region}`);
      if (pair !== undefined) return pair;
    }
    return this.#prices[cls];
  }

  /** Prices every record in place; exposed for benchmarks and tests. */
  priceBatch(batch: FlowBatch): void {
    for (const record of batch.records) {
      if (record.trafficClass === undefined) this.#warnUnclassified();
      record.costUsd = (record.bytes / BYTES_PER_GB) * this.priceOf(record);
    }
  }

  #warnUnclassified(): void {
    if (this.#warnedUnclassified) return;
    this.#warnedUnclassified = true;
    this.#settings.logger.warn('records without a traffic class are priced at 0: put processors/crosszone before cost');
  }

  async consume(batch: FlowBatch): Promise<void> {
    this.priceBatch(batch);
    await this.#next.consume(batch);
  }

  async shutdown(): Promise<void> {}
}
