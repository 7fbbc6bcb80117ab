import type { ComponentSettings, FlowConsumer, Processor } from '../../pipeline/component.ts';
import { TRAFFIC_CLASSES, type FlowBatch, type TrafficClass } from '../../pipeline/flow.ts';
import { classifyFlow } from './classify.ts';
import type { CrosszoneConfig } from './config.ts';

/**
 * Sets `trafficClass` on every record (classify.ts) and drops records whose
 * class is not in `keep`. A record that already has a class keeps it when its
 * zones say nothing (`unknown`), so classes survive a hop without attributes.
 * Changes the batch in place.
 */
export class CrosszoneProcessor implements Processor {
  readonly #next: FlowConsumer;
  /** undefined: keep every class. */
  readonly #keep: ReadonlySet<TrafficClass> | undefined;

  constructor(_settings: ComponentSettings, config: CrosszoneConfig, next: FlowConsumer) {
    this.#next = next;
    const keep = new Set(config.keep ?? TRAFFIC_CLASSES);
    this.#keep = keep.size === TRAFFIC_CLASSES.length ? undefined : keep;
  }

  async start(): Promise<void> {}

  /** Classifies and filters `batch` in place; exposed for benchmarks and tests. */
  classifyBatch(batch: FlowBatch): void {
    const records = batch.records;
    const keep = this.#keep;
    let kept = 0;
    for (let i = 0; i < records.length; i++) {
      const record = records[i]!;
      const computed = classifyFlow(record);
      const trafficClass = computed === 'unknown' && record.trafficClass ? record.trafficClass : computed;
      record.trafficClass = trafficClass;
      if (keep && !keep.has(trafficClass)) continue;
      records[kept++] = record;
    }
    records.length = kept;
  }

  async consume(batch: FlowBatch): Promise<void> {
    this.classifyBatch(batch);
    await this.#next.consume(batch);
  }

  async shutdown(): Promise<void> {}
}
