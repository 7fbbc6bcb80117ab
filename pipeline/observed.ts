/**
 * Wrappers that count records in and out of each component and turn a
 * consumer's failure into a logged, counted drop: after start-up nothing that
 * happens inside a component may take the process down. Both keep the
 * capabilities of the consumer they wrap.
 */
import type { Logger } from 'pino';
import type { ComponentKind, FlowConsumer } from './component.ts';
import { flowCount, type FlowBatch } from './flow.ts';
import type { SelfTelemetry } from './telemetry/metrics.ts';

/** In front of a processor or exporter: counts records in; a rejection is logged and counted as dropped, never passed upstream. */
export function observeConsumer(target: FlowConsumer, id: string, kind: ComponentKind, telemetry: SelfTelemetry, logger: Logger): FlowConsumer {
  return {
    capabilities: target.capabilities,
    async consume(batch: FlowBatch): Promise<void> {
      const n = flowCount(batch);
      telemetry.recordsIn(id, kind, n);
      try {
        await target.consume(batch);
      } catch (err) {
        telemetry.recordsDropped(id, kind, n);
        if (kind === 'exporter') telemetry.exportFailed(id);
        logger.error({ err, records: n }, `${kind} failed to consume a batch; its records are dropped`);
      }
    },
  };
}

/** Behind a receiver or processor: counts records it passes on. */
export function countOutput(next: FlowConsumer, id: string, kind: ComponentKind, telemetry: SelfTelemetry): FlowConsumer {
  return {
    capabilities: next.capabilities,
    consume(batch: FlowBatch): Promise<void> {
      telemetry.recordsOut(id, kind, flowCount(batch));
      return next.consume(batch);
    },
  };
}
