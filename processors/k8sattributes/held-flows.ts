/**
 * Flows held back because their source resolved to nothing yet: a pod's
 * first flows are often drained before its watch event arrives. They wait
 * here, grouped by the batch (interval) they were counted in, for at most
 * resolve_wait, and leave when their source resolves or their wait is over.
 *
 * Memory is bounded by a record count and an estimate of the bytes held
 * (HELD_RECORD_BYTES per record plus its strings); a record that does not
 * fit is not held: the caller decides its fate at once.
 */
import type { FlowEndpoint, FlowRecord } from '../../pipeline/flow.ts';

/**
 * Heap bytes of a held record besides its strings: the record, its two
 * endpoints and the group's slot for it (measured at about 250 bytes for a
 * receiver's record with 28 characters of addresses, with --expose-gc).
 */
export const HELD_RECORD_BYTES = 200;

function endpointStrings(ep: FlowEndpoint): number {
  let n = ep.address.length;
  if (ep.namespace !== undefined) n += ep.namespace.length;
  if (ep.pod !== undefined) n += ep.pod.length;
  if (ep.workloadKind !== undefined) n += ep.workloadKind.length;
  if (ep.workloadName !== undefined) n += ep.workloadName.length;
  if (ep.node !== undefined) n += ep.node.length;
  if (ep.zone !== undefined) n += ep.zone.length;
  if (ep.region !== undefined) n += ep.region.length;
  return n;
}

/** Estimated heap bytes a held record costs (strings counted at 2 bytes a character, the worst case). */
export function heldRecordBytes(r: FlowRecord): number {
  return HELD_RECORD_BYTES + 2 * (endpointStrings(r.src) + endpointStrings(r.dst) + r.transport.length);
}

/** Records of one batch, held from the same moment. */
interface HeldGroup {
  /** The interval they were counted in (FlowBatch start/end): they leave with it. */
  readonly start: number;
  readonly end: number;
  /** When their wait is over (ms since the epoch). */
  readonly until: number;
  records: FlowRecord[];
}

/** Records leaving the hold, with the interval they belong to. */
export interface Released {
  start: number;
  end: number;
  records: FlowRecord[];
  /** True when their wait is over (or at shutdown): whatever did not resolve leaves anyway. */
  final: boolean;
}

export class HeldFlows {
  readonly #maxRecords: number;
  readonly #maxBytes: number;
  /** In the order they were held, so the earliest wait ends first. */
  #groups: HeldGroup[] = [];
  #records = 0;
  #bytes = 0;

  constructor(maxRecords: number, maxBytes: number) {
    this.#maxRecords = maxRecords;
    this.#maxBytes = maxBytes;
  }

  /** Records held now. */
  get records(): number {
    return this.#records;
  }

  /** Estimated heap bytes held now. */
  get bytes(): number {
    return this.#bytes;
  }

  /**
   * Holds `record`, counted in start..end, until `until`. False when it does
   * not fit the bounds: it is then not held and the caller decides.
   */
  hold(record: FlowRecord, start: number, end: number, until: number): boolean {
    const bytes = heldRecordBytes(record);
    if (this.#records + 1 > this.#maxRecords || this.#bytes + bytes > this.#maxBytes) return false;
    let group = this.#groups.at(-1);
    if (group === undefined || group.start !== start || group.end !== end || group.until !== until) {
      group = { start, end, until, records: [] };
      this.#groups.push(group);
    }
    group.records.push(record);
    this.#records++;
    this.#bytes += bytes;
    return true;
  }

  /**
   * Takes out, oldest first: every group whose wait is over at `now` (all of
   * it, `final`), and, when `resolvable` is given, the records of the other
   * groups for which it says true.
   */
  release(now: number, resolvable: ((record: FlowRecord) => boolean) | undefined): Released[] {
    const out: Released[] = [];
    const kept: HeldGroup[] = [];
    for (const group of this.#groups) {
      if (group.until <= now) {
        this.#forget(group.records);
        out.push({ start: group.start, end: group.end, records: group.records, final: true });
        continue;
      }
      if (resolvable !== undefined) {
        const ready: FlowRecord[] = [];
        const waiting: FlowRecord[] = [];
        for (const r of group.records) (resolvable(r) ? ready : waiting).push(r);
        if (ready.length > 0) {
          group.records = waiting;
          this.#forget(ready);
          out.push({ start: group.start, end: group.end, records: ready, final: false });
        }
      }
      if (group.records.length > 0) kept.push(group);
    }
    this.#groups = kept;
    return out;
  }

  /** Takes out everything (shutdown). */
  releaseAll(): Released[] {
    return this.release(Infinity, undefined);
  }

  #forget(records: readonly FlowRecord[]): void {
    this.#records -= records.length;
    for (const r of records) this.#bytes -= heldRecordBytes(r);
  }
}
