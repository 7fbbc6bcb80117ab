/** Test support: settings for a component built outside a service, and a consumer that records batches. */
import { pino } from 'pino';
import { metrics } from '@opentelemetry/api';
import type { ComponentKind, ComponentSettings, FlowConsumer } from './component.ts';
import type { FlowBatch } from './flow.ts';

export function testSettings(id: string, kind: ComponentKind): ComponentSettings {
  return { id, kind, logger: pino({ level: process.env.ZONETAP_TEST_LOG ?? 'silent' }), meter: metrics.getMeter('zonetap-test') };
}

/** Collects every batch it is given. */
export class RecordingConsumer implements FlowConsumer {
  readonly batches: FlowBatch[] = [];
  async consume(batch: FlowBatch): Promise<void> {
    this.batches.push(batch);
  }
  get records() {
    return this.batches.flatMap((b) => b.records);
  }
}
