import { classCode, keepRows } from '../../pipeline/columns.ts';
import type { FlowColumns } from '../../pipeline/flow.ts';
import { isPublicAddress } from '../../net/index.ts';
import { isResolved } from './classify.ts';

const SAME_ZONE = classCode('same_zone');
const SAME_REGION = classCode('same_region');
const CROSS_ZONE = classCode('cross_zone');
const CROSS_REGION = classCode('cross_region');
const INTERNET = classCode('internet');
const UNKNOWN = classCode('unknown');

/** Per end: whether it is an `internet` destination, not yet worked out. */
const NOT_YET = 0;
const NOT_INTERNET = 1;
const IS_INTERNET = 2;

/**
 * classifyFlow (classify.ts) for every row of a batch of columns, with what
 * depends on one end worked out once per end, not per row: its zone and
 * region as small numbers (0: none; equal numbers for equal names), and, the
 * first time it is a destination that needs it, whether it is an unnamed
 * public address. Reused from batch to batch (its arrays grow to the
 * largest batch).
 */
export class ColumnClassifier {
  #zone = new Int32Array(1024);
  #region = new Int32Array(1024);
  #internet = new Uint8Array(1024);
  #keep = new Uint8Array(1024);

  /**
   * Sets the trafficClass column of every row, keeping a class a row already
   * has when its ends say `unknown` (as classifyBatches does for records), and
   * drops the rows whose class `keep` (indexed by class code) marks 0; keeps
   * every row when `keep` is undefined. Returns how many rows were dropped.
   */
  classify(columns: FlowColumns, keep: Uint8Array | undefined): number {
    const c = columns;
    const ends = c.ends;
    this.#numberEnds(c);
    const zone = this.#zone;
    const region = this.#region;
    const internet = this.#internet;
    const { src, dst, trafficClass } = c;
    if (keep !== undefined && this.#keep.length < c.length) this.#keep = new Uint8Array(Math.max(c.length, this.#keep.length * 2));
    const kept = this.#keep;
    for (let i = 0; i < c.length; i++) {
      const s = src[i]!;
      const d = dst[i]!;
      const rs = region[s]!;
      const rd = region[d]!;
      let code: number;
      if (rs !== 0 && rd !== 0 && rs !== rd) code = CROSS_REGION;
      else {
        const zs = zone[s]!;
        const zd = zone[d]!;
        if (zs !== 0 && zd !== 0) code = zs === zd ? SAME_ZONE : CROSS_ZONE;
        else if (rs !== 0 && rd !== 0) code = SAME_REGION;
        else {
          let state = internet[d]!;
          if (state === NOT_YET) {
            const end = ends[d]!;
            state = internet[d] = !isResolved(end) && isPublicAddress(end.address) ? IS_INTERNET : NOT_INTERNET;
          }
          code = state === IS_INTERNET ? INTERNET : UNKNOWN;
        }
      }
      // A class set upstream survives when the ends say nothing.
      if (code === UNKNOWN && trafficClass[i] !== 0) code = trafficClass[i]!;
      trafficClass[i] = code;
      if (keep !== undefined) kept[i] = keep[code]!;
    }
    return keep === undefined ? 0 : keepRows(c, kept);
  }

  /** Zone and region numbers of every end, and its internet state reset. */
  #numberEnds(c: FlowColumns): void {
    const ends = c.ends;
    const n = ends.length;
    if (this.#zone.length < n) {
      const size = Math.max(n, this.#zone.length * 2);
      this.#zone = new Int32Array(size);
      this.#region = new Int32Array(size);
      this.#internet = new Uint8Array(size);
    }
    const zone = this.#zone;
    const region = this.#region;
    // Numbers for this batch only: names never pile up across batches.
    const names = new Map<string, number>();
    const number = (name: string | undefined): number => {
      // classify.ts tests names for truth: an empty name is no name.
      if (!name) return 0;
      let k = names.get(name);
      if (k === undefined) names.set(name, (k = names.size + 1));
      return k;
    };
    for (let e = 0; e < n; e++) {
      const end = ends[e]!;
      zone[e] = number(end.zone);
      region[e] = number(end.region);
    }
    this.#internet.fill(NOT_YET, 0, n);
  }
}
