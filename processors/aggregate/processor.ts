import type { FlowBatch } from '../../pipeline/flow.ts';
import type { AggregateConfig } from './config.ts';
import { RollUp } from './rollup.ts';

/**
 * The aggregate batch function: replaces the records of each batch by their
 * roll-up to `by` (rollup.ts). Each batch is rolled up on its own; what is
 * remembered between batches is only which rolled-up endpoint each address
 * gave (for speed, bounded).
 */
export function aggregateBatches(config: AggregateConfig): (batch: FlowBatch) => void {
  const rollUp = new RollUp(config.by);
  return (batch) => {
    // Columns are rolled up once per end (RollUp#columns); the output is records either way, few.
    const columns = batch.columns;
    batch.records = columns !== undefined ? rollUp.columns(columns) : rollUp.records(batch.records);
  };
}
