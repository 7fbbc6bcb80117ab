/**
 * The flow log line format (README.md here), as read back by
 * receivers/replay: one JSON object per record, keys in a fixed order —
 * `start`, `end`, the record's attributes in pipeline/attributes.ts order
 * (absent when unknown), `bytes`, `packets`, then `zonetap.cost.usd` when set.
 */
import { COST_USD, recordAttributes } from '../../pipeline/attributes.ts';
import type { FlowRecord } from '../../pipeline/flow.ts';

/** One line, without the newline. `start`/`end` are RFC 3339 times (UTC, milliseconds). */
export function formatFlowLogLine(start: string, end: string, record: FlowRecord): string {
  const line: Record<string, unknown> = { start, end, ...recordAttributes(record), bytes: record.bytes, packets: record.packets };
  if (record.costUsd !== undefined) line[COST_USD] = record.costUsd;
  return JSON.stringify(line);
}

/** RFC 3339 text of a time in ms since the epoch, as written to flow logs. */
export function flowLogTime(ms: number): string {
  return new Date(ms).toISOString();
}
