/**
 * Measured traffic read from a flow log (exporters/flowlog's format): rates
 * over the time the log covers, from its first record's start to its last
 * record's end. Priced logs (a pipeline with `cost`) give dollars; an
 * unpriced one gives bytes only, and says so.
 */
import { observedFromRecords, type ObservedTraffic } from '../../advice/index.ts';
import { readFlowLog, type DamagedLine } from './reader.ts';

export interface FlowLogTraffic {
  observed: ObservedTraffic[];
  /** Seconds the log covers. */
  seconds: number;
  /** Records in the log and how many carry a cost. */
  records: number;
  priced: number;
  damaged: DamagedLine[];
}

/**
 * Reads `path`; throws `path:line: what is wrong` when no line is a flow
 * record. `spanSeconds`, when the caller knows how long the traffic ran (the
 * demo), replaces the span of the records' windows as the rates' denominator.
 */
export async function observedFromFlowLog(path: string, spanSeconds?: number): Promise<FlowLogTraffic> {
  const log = await readFlowLog(path);
  let start = Infinity;
  let end = -Infinity;
  let records = 0;
  let priced = 0;
  for (const b of log.batches) {
    start = Math.min(start, b.start);
    end = Math.max(end, b.end);
    records += b.records.length;
    for (const r of b.records) if (r.costUsd !== undefined) priced++;
  }
  const seconds = Math.max(spanSeconds ?? (end - start) / 1000, 1);
  return { observed: observedFromRecords(log.batches.flatMap((b) => b.records), seconds), seconds, records, priced, damaged: log.damaged };
}
