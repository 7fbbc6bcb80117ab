/**
 * Naming a batch held as columns (pipeline/flow.ts FlowColumns, what the
 * kernel receivers hand on) once per END rather than once per row: each end
 * used as a source is resolved and named once (twice if overflow rows use
 * it too: overflow passes the locality rule), each end used as a destination
 * once (once per port and transport when its pod backs Services on different
 * ports). A row then costs typed-array reads and writes, its keep mask and
 * the byte tallies. The decisions are attribution.ts's (sourceEnd, namedEnd,
 * the same tallies), so the output, turned into records, is the records
 * path's record for record.
 *
 * The named ends go into a new ends table and every row is renumbered into
 * it: a source and a destination naming of one address differ, and so do a
 * destination's namings per Service. Ends a naming leaves as they are
 * (unresolved, upstream names kept), and ends named alike on both sides
 * (after their address's entry, no Service), keep one slot for both sides. Ends of
 * ignored namespaces have port 0 (attribution.ts ignoredEnd): the rows'
 * ports are set to 0 with them. Rows an agent does not keep are dropped with
 * keepRows; rows whose source is unresolved and that would be held leave
 * the columns as records (recordAt) for `hold`.
 */
import { OVERFLOW_TRANSPORT, type FlowColumns, type FlowEndpoint, type FlowRecord } from '../../pipeline/flow.ts';
import { keepRows, recordAt } from '../../pipeline/columns.ts';
import { countNotKept, hasUpstreamNames, inIgnoredNamespace, namedEnd, sourceEnd, type NotKept, type Pass, type Tally } from './attribution.ts';
import { POD, type Resolved } from './directory.ts';
import { PORT_DEPENDENT } from './services.ts';

/** Slot values that are not a slot of the new ends table (NotKept codes are negated minus 2). */
const UNSET = -1;
/** A destination named per port and transport (byPort). */
const PER_PORT = -4;
const notKeptSlot = (why: NotKept): number => -2 - why;
const notKeptOf = (slot: number): NotKept => (-2 - slot) as NotKept;

/** Flags per naming of an end. */
const UNRESOLVED = 1;
/** A pod of a namespace annotated zonetap.io/ignore: the row is ignored, its port on this side 0. */
const IGNORED = 2;
/** Source unresolved with nothing upstream named: held while there is room. */
const HOLD = 4;

class EndNaming {
  readonly #pass: Pass;
  readonly #nodeName: string | undefined;
  readonly #holding: boolean;
  readonly #ends: readonly FlowEndpoint[];
  readonly #transports: readonly string[];
  /** The new ends table. */
  readonly named: FlowEndpoint[] = [];
  /** Slot of an end kept as it is (shared by both sides). */
  readonly #asIs: Int32Array;
  /**
   * Slot of the end named after its address's entry, without a Service
   * (namedEnd(end, entry)): the same object whichever side asks, so an end
   * that is a source and a destination stays one end for the stages after.
   */
  readonly #byAddress: Int32Array;
  /** Per end and overflow (2k + 1 for overflow rows): slot or a NotKept slot, and flags. */
  readonly sourceSlot: Int32Array;
  readonly sourceFlags: Uint8Array;
  readonly destinationSlot: Int32Array;
  readonly destinationFlags: Uint8Array;
  /** What each end's address resolves to (looked up once for both sides), where `looked` is 1. */
  readonly #resolved: (Resolved | undefined)[];
  readonly #looked: Uint8Array;
  /** Destinations named per port (few): end -> its pod, and slot by port * 256 + transport number. */
  readonly #perPort = new Map<number, { pod: Resolved; slots: Map<number, number> }>();

  constructor(pass: Pass, nodeName: string | undefined, holding: boolean, columns: FlowColumns) {
    this.#pass = pass;
    this.#nodeName = nodeName;
    this.#holding = holding;
    this.#ends = columns.ends;
    this.#transports = columns.transports;
    const n = columns.ends.length;
    // Two allocations per batch, not seven: views into one array of slots and one of flags.
    const slots = new Int32Array(5 * n).fill(UNSET);
    this.#asIs = slots.subarray(0, n);
    this.#byAddress = slots.subarray(n, 2 * n);
    this.sourceSlot = slots.subarray(2 * n, 4 * n);
    this.destinationSlot = slots.subarray(4 * n);
    const flags = new Uint8Array(4 * n);
    this.#looked = flags.subarray(0, n);
    this.sourceFlags = flags.subarray(n, 3 * n);
    this.destinationFlags = flags.subarray(3 * n);
    // Filled by push: `new Array(n)` of a large n would be a slow dictionary-mode array.
    this.#resolved = [];
    for (let k = 0; k < n; k++) this.#resolved.push(undefined);
  }

  #slotOf(k: number, end: FlowEndpoint): number {
    if (end !== this.#ends[k]) return this.named.push(end) - 1;
    let slot = this.#asIs[k]!;
    if (slot === UNSET) slot = this.#asIs[k] = this.named.push(end) - 1;
    return slot;
  }

  /** The slot of end `k` named after what its address resolves to, with no Service: `make()` names it the first time. */
  #namedByAddress(k: number, make: () => FlowEndpoint): number {
    let slot = this.#byAddress[k]!;
    if (slot === UNSET) slot = this.#byAddress[k] = this.named.push(make()) - 1;
    return slot;
  }

  /** What the address of end `k` resolves to (Pass.resolve), looked up once per batch. */
  #resolve(k: number): Resolved | undefined {
    if (this.#looked[k] === 1) return this.#resolved[k];
    const r = this.#pass.resolve(this.#ends[k]!.address);
    this.#resolved[k] = r;
    this.#looked[k] = 1;
    return r;
  }

  /** Names end `k` as the source of overflow rows (`overflow` 1) or of the others (0); returns its slot. */
  nameSource(k: number, overflow: number): number {
    const end = this.#ends[k]!;
    const pass = this.#pass;
    // Pass.source of an end without a pod UID is its address's (not on a sidecar, which takes the records path).
    const byAddress = end.podUid === undefined;
    const s = byAddress ? this.#resolve(k) : pass.source(end);
    const src = sourceEnd(pass, this.#nodeName, end, s, overflow === 1);
    let flags = 0;
    if (s === undefined) {
      flags |= UNRESOLVED;
      if (this.#holding && overflow === 0 && !hasUpstreamNames(end)) flags |= HOLD;
    } else if (inIgnoredNamespace(s)) flags |= IGNORED;
    let slot: number;
    if (typeof src === 'number') slot = notKeptSlot(src);
    // A resolved source that is not kept as it came is namedEnd(end, s) (attribution.ts sourceEnd).
    else if (byAddress && s !== undefined && src !== end) slot = this.#namedByAddress(k, () => src);
    else slot = this.#slotOf(k, src);
    this.sourceSlot[2 * k + overflow] = slot;
    this.sourceFlags[2 * k + overflow] = flags;
    return slot;
  }

  /** Names end `k` as a destination; returns its slot, or PER_PORT. */
  nameDestination(k: number): number {
    const end = this.#ends[k]!;
    const d = this.#resolve(k);
    let slot: number;
    let flags = 0;
    if (d === undefined) {
      flags = UNRESOLVED;
      slot = this.#slotOf(k, end);
    } else if (d.kind === POD && !d.ns.ignored) {
      const service = this.#pass.directory.services.serviceAtEveryPort(end.address);
      if (service === PORT_DEPENDENT) {
        this.#perPort.set(k, { pod: d, slots: new Map() });
        slot = PER_PORT;
      } else if (service === undefined) slot = this.#namedByAddress(k, () => namedEnd(end, d));
      else slot = this.#slotOf(k, namedEnd(end, d, service));
    } else {
      if (inIgnoredNamespace(d)) flags = IGNORED;
      slot = this.#namedByAddress(k, () => namedEnd(end, d));
    }
    this.destinationSlot[k] = slot;
    this.destinationFlags[k] = flags;
    return slot;
  }

  /** The slot of destination `k` (a pod backing Services on different ports) reached at `port` over transport number `t`. */
  destinationAtPort(k: number, port: number, t: number): number {
    const key = port * 256 + t;
    const { pod, slots } = this.#perPort.get(k)!;
    let slot = slots.get(key);
    if (slot === undefined) {
      const end = this.#ends[k]!;
      const service = this.#pass.directory.services.serviceAt(end.address, port, this.#transports[t]!);
      slot = this.named.push(namedEnd(end, pod, service)) - 1;
      slots.set(key, slot);
    }
    return slot;
  }
}

/**
 * Names the rows of `columns` in place (see the file comment), counting in
 * `tally` as attribution.ts does per record. `hold`, when holding is on,
 * takes a row whose source is unresolved as a record and says whether it
 * was held (false: no room; the row is then decided at once).
 */
export function attributeColumns(pass: Pass, nodeName: string | undefined, columns: FlowColumns, tally: Tally, hold: ((record: FlowRecord) => boolean) | undefined): void {
  const c = columns;
  const naming = new EndNaming(pass, nodeName, hold !== undefined, c);
  const { sourceSlot, sourceFlags, destinationSlot, destinationFlags } = naming;
  const overflowTransport = c.transports.indexOf(OVERFLOW_TRANSPORT);
  // The columns in locals: the calls in the loop would otherwise make each a property load per row.
  const { src: srcEnd, srcPort, dst: dstEnd, dstPort, transport, bytes: rowBytes, ignored } = c;
  const n = c.length;
  const keep = new Uint8Array(n);
  let kept = 0;
  for (let i = 0; i < n; i++) {
    const bytes = rowBytes[i]!;
    const t = transport[i]!;
    const s = 2 * srcEnd[i]! + (t === overflowTransport ? 1 : 0);
    let src = sourceSlot[s]!;
    if (src === UNSET) src = naming.nameSource(s >> 1, s & 1);
    const sf = sourceFlags[s]!;
    if ((sf & HOLD) !== 0) {
      // recordAt reads the ends as they came: this row is not renumbered yet.
      if (hold!(recordAt(c, i))) {
        tally.heldRecords++;
        continue;
      }
      tally.notHeldRecords++;
    }
    if (src < 0) {
      countNotKept(tally, notKeptOf(src), bytes);
      continue;
    }
    if ((sf & UNRESOLVED) !== 0) tally.unresolvedSrcBytes += bytes;
    const d = dstEnd[i]!;
    let dst = destinationSlot[d]!;
    if (dst === UNSET) dst = naming.nameDestination(d);
    if (dst === PER_PORT) dst = naming.destinationAtPort(d, dstPort[i]!, t);
    const df = destinationFlags[d]!;
    if ((df & UNRESOLVED) !== 0) tally.unresolvedDstBytes += bytes;
    if (((sf | df) & IGNORED) !== 0) {
      tally.ignoredRecords++;
      tally.ignoredBytes += bytes;
      ignored[i] = 1;
      if ((sf & IGNORED) !== 0) srcPort[i] = 0;
      if ((df & IGNORED) !== 0) dstPort[i] = 0;
    }
    srcEnd[i] = src;
    dstEnd[i] = dst;
    keep[i] = 1;
    kept++;
  }
  if (kept < n) keepRows(c, keep);
  c.ends = naming.named;
}
