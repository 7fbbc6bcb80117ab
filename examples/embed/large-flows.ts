/**
 * A custom processor: keeps flows of at least `min_bytes` and drops the rest
 * (health checks, DNS). Stateless, so it is one function over a batch,
 * wrapped by batchProcessorFactory like zonetap's own crosszone and cost.
 */
import { batchProcessorFactory, z } from 'zonetap';

const configSchema = z.strictObject({
  /** Flows with fewer bytes in an interval are dropped. */
  min_bytes: z.number({ error: 'expected a number of bytes, like 1000' }).int().min(0).default(1000),
});

export const largeFlowsProcessorFactory = batchProcessorFactory({
  type: 'largeflows',
  stability: 'development',
  description: 'Keeps flows of at least min_bytes per interval.',
  configSchema,
  createBatchFunction(_settings, config) {
    return (batch) => {
      batch.records = batch.records.filter((flow) => flow.bytes >= config.min_bytes);
    };
  },
});
