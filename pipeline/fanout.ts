/**
 * Hands one batch to several consumers, as the Collector's fan-out consumer
 * does: read-only consumers share the batch; each consumer that changes it
 * gets a clone, except that when no read-only consumer shares it, the last
 * mutating consumer takes the original. The fan-out therefore changes its
 * input only in that last case, and says so in its own capabilities.
 */
import { MUTATES_DATA, READ_ONLY } from './component.ts';
import type { FlowConsumer } from './component.ts';
import { cloneBatch } from './columns.ts';
import type { FlowBatch } from './flow.ts';

export function fanout(targets: readonly FlowConsumer[]): FlowConsumer {
  if (targets.length === 1) return targets[0]!;
  const readOnly = targets.filter((t) => !t.capabilities.mutatesData);
  const mutating = targets.filter((t) => t.capabilities.mutatesData);
  const lastTakesOriginal = readOnly.length === 0 && mutating.length > 0;
  return {
    capabilities: lastTakesOriginal ? MUTATES_DATA : READ_ONLY,
    async consume(batch: FlowBatch): Promise<void> {
      // Clone before anyone runs: the consumer given the original may change it at once.
      const copies = mutating.map((_, i) => (lastTakesOriginal && i === mutating.length - 1 ? batch : cloneBatch(batch)));
      const results = await Promise.allSettled([...readOnly.map((c) => c.consume(batch)), ...mutating.map((c, i) => c.consume(copies[i]!))]);
      const errors = results.filter((r) => r.status === 'rejected').map((r) => (r as PromiseRejectedResult).reason as unknown);
      if (errors.length === 1) throw errors[0];
      if (errors.length > 1) throw new AggregateError(errors, `${errors.length} consumers failed`);
    },
  };
}
