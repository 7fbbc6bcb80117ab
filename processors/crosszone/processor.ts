import { classCode } from '../../pipeline/columns.ts';
import { TRAFFIC_CLASSES, type FlowBatch, type TrafficClass } from '../../pipeline/flow.ts';
import { classifyFlow } from './classify.ts';
import { ColumnClassifier } from './classify-columns.ts';
import type { CrosszoneConfig } from './config.ts';

/**
 * The crosszone batch function: sets `trafficClass` on every record
 * (classify.ts) and drops records whose class is not in `keep`. A record that
 * already has a class keeps it when its zones say nothing (`unknown`), so
 * classes survive a hop without attributes. A batch of columns stays columns
 * (classify-columns.ts: the same classes, worked out per end).
 */
export function classifyBatches(config: CrosszoneConfig): (batch: FlowBatch) => void {
  const chosen = new Set(config.keep ?? TRAFFIC_CLASSES);
  // undefined: keep every class.
  const keep: ReadonlySet<TrafficClass> | undefined = chosen.size === TRAFFIC_CLASSES.length ? undefined : chosen;
  // The same choice by class column value, for columns: 1 where the class is kept.
  let keepCodes: Uint8Array | undefined;
  if (keep !== undefined) {
    keepCodes = new Uint8Array(TRAFFIC_CLASSES.length + 1);
    for (const trafficClass of keep) keepCodes[classCode(trafficClass)] = 1;
  }
  const columnClassifier = new ColumnClassifier();
  return (batch) => {
    const columns = batch.columns;
    if (columns !== undefined) {
      columnClassifier.classify(columns, keepCodes);
      return;
    }
    const records = batch.records;
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
  };
}
