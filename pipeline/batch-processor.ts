/**
 * The Collector's `processorhelper` for zonetap: a stateless processor is one
 * function over a batch plus its config. The helper supplies the factory, the
 * empty start and shutdown, the hand-off to the next consumer and the
 * capabilities: a batch function changes the batch it is given (fields of
 * records, the record list, or `batch.records` itself), so it always declares
 * `mutatesData` and fan-out always hands it a batch of its own.
 */
import { MUTATES_DATA } from './component.ts';
import type { ComponentSettings, ProcessorFactory, Stability } from './component.ts';
import type { FlowBatch } from './flow.ts';
import type { z } from 'zod';

/** Changes `batch` in place: sets fields, drops records, or replaces `batch.records`. */
export type BatchFunction = (batch: FlowBatch) => void;

export interface BatchProcessorDefinition<C> {
  type: string;
  stability: Stability;
  description: string;
  configSchema: z.ZodType<C>;
  /** Builds the function of one processor instance (called once per pipeline that lists it). */
  createBatchFunction(settings: ComponentSettings, config: C): BatchFunction;
}

export function batchProcessorFactory<C>(definition: BatchProcessorDefinition<C>): ProcessorFactory<C> {
  const { createBatchFunction, ...factory } = definition;
  return {
    ...factory,
    kind: 'processor',
    create(settings, config, next) {
      const process = createBatchFunction(settings, config);
      return {
        capabilities: MUTATES_DATA,
        async start() {},
        async shutdown() {},
        async consume(batch) {
          process(batch);
          await next.consume(batch);
        },
      };
    },
  };
}
