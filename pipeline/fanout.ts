/**
 * Hands one batch to several consumers, as the Collector's fan-out consumer does:
 * read-only consumers share the batch; consumers that change it (their factory
 * declares `mutatesData`) get a clone, except that when every consumer changes
 * it the last one may take the original.
 */
import type { FlowConsumer } from './component.ts';
import { cloneBatch } from './flow.ts';
import type { FlowBatch } from './flow.ts';

export interface FanoutTarget {
  consumer: FlowConsumer;
  /** The consumer changes batches in place. */
  mutatesData: boolean;
}

export interface Fanout extends FlowConsumer {
  /** True when some target changes batches (so whoever feeds this fan-out must treat it as a mutating consumer). */
  readonly mutatesData: boolean;
}

export function fanout(targets: readonly FanoutTarget[]): Fanout {
  const mutatesData = targets.some((t) => t.mutatesData);
  if (targets.length === 1) {
    const only = targets[0]!;
    return { mutatesData, consume: (batch) => only.consumer.consume(batch) };
  }
  const readOnly = targets.filter((t) => !t.mutatesData).map((t) => t.consumer);
  const mutating = targets.filter((t) => t.mutatesData).map((t) => t.consumer);
  return {
    mutatesData,
    async consume(batch: FlowBatch): Promise<void> {
      // Clone before anyone runs: the consumer given the original may change it at once.
      const copies = mutating.map((_, i) => (readOnly.length === 0 && i === mutating.length - 1 ? batch : cloneBatch(batch)));
      const results = await Promise.allSettled([...readOnly.map((c) => c.consume(batch)), ...mutating.map((c, i) => c.consume(copies[i]!))]);
      const errors = results.filter((r) => r.status === 'rejected').map((r) => (r as PromiseRejectedResult).reason as unknown);
      if (errors.length === 1) throw errors[0];
      if (errors.length > 1) throw new AggregateError(errors, `${errors.length} consumers failed`);
    },
  };
}
