import type { ComponentSettings, FlowConsumer, Processor } from '../../pipeline/component.ts';
import type { FlowBatch } from '../../pipeline/flow.ts';
import type { AggregateConfig } from './config.ts';
import { RollUp } from './rollup.ts';

/**
 * Replaces the records of each batch by their roll-up to `by` (rollup.ts).
 * Each batch is rolled up on its own; what is remembered between batches is
 * only which rolled-up endpoint each address gave (for speed, bounded).
 */
export class AggregateProcessor implements Processor {
  readonly #next: FlowConsumer;
  readonly #rollUp: RollUp;

  constructor(_settings: ComponentSettings, config: AggregateConfig, next: FlowConsumer) {
    this.#next = next;
    this.#rollUp = new RollUp(config.by);
  }

  async start(): Promise<void> {}

  /** Rolls the batch up in place; exposed for benchmarks and tests. */
  aggregateBatch(batch: FlowBatch): void {
    batch.records = this.#rollUp.records(batch.records);
  }

  async consume(batch: FlowBatch): Promise<void> {
    this.aggregateBatch(batch);
    await this.#next.consume(batch);
  }

  async shutdown(): Promise<void> {}
}
