/**
 * Decodes the addon's drain output: records laid out as bpf/flows.h's struct
 * flow_key (48 bytes) then u64 bytes and u64 packets in host (little-endian)
 * byte order, straight into columns (pipeline/flow.ts FlowColumns): no object
 * per flow, one end (and one address text) per distinct address of a chunk.
 * Done here rather than in C so that the addon stays a thin syscall layer.
 */
import type { FlowColumns, Transport } from '../pipeline/flow.ts';
import { newColumns, transportCode } from '../pipeline/columns.ts';
import { KeyTable } from './key-table.ts';

/** Offsets in struct flow_key (bpf/flows.h). */
export const KEY_SIZE = 48;
const SADDR = 0;
const DADDR = 16;
const SPORT = 32;
const DPORT = 34;
const FAMILY = 36;
const PROTOCOL = 37;
const CGROUP_ID = 40;
/** A drained record: key, then bytes and packets. */
export const RECORD_SIZE = KEY_SIZE + 16;

const TRANSPORTS: Record<number, Transport> = { 1: 'icmp', 6: 'tcp', 17: 'udp', 58: 'icmpv6' };

export function transportName(protocol: number): Transport {
  return TRANSPORTS[protocol] ?? String(protocol);
}

function ipv4(view: DataView, off: number): string {
  return `${view.getUint8(off)}.${view.getUint8(off + 1)}.${view.getUint8(off + 2)}.${view.getUint8(off + 3)}`;
}

/** RFC 5952 text: lower case, longest run (>= 2) of zero groups as `::`. */
export function ipv6(view: DataView, off: number): string {
  const groups: number[] = [];
  for (let i = 0; i < 8; i++) groups.push(view.getUint16(off + i * 2));
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  // IPv4-mapped addresses keep their dotted tail, as Node and the kernel print them.
  if (bestStart === 0 && bestLen === 5 && groups[5] === 0xffff) return `::ffff:${ipv4(view, off + 12)}`;
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

function u64(view: DataView, off: number): number {
  return view.getUint32(off, true) + view.getUint32(off + 4, true) * 0x1_0000_0000;
}

/** One decoded chunk of a drain. */
export interface DecodedChunk {
  /**
   * Its flows, with room for SPARE_ROWS more rows (overflow). Ends have
   * `address` and port 0 only.
   */
  columns: FlowColumns;
  /**
   * The cgroup table only: by end number, the cgroup id of the sending socket
   * for a source end (0 for an end by address alone: every destination, and a
   * source the hook saw without a socket). A source end is one per distinct
   * (address, cgroup id), for the receiver to name its pod (receivers/cgroup).
   */
  endCgroups?: number[];
}

/** Rows decodeColumns leaves free after the flows: one overflow row per family (receivers/kernel). */
export const SPARE_ROWS = 2;

/**
 * Decodes every record of a chunk into columns. `cgroups`: the records are
 * the cgroup table's, whose source ends are told apart by sending cgroup too.
 */
export function decodeColumns(buffer: Uint8Array, cgroups = false): DecodedChunk {
  if (buffer.byteLength % RECORD_SIZE !== 0) throw new Error(`drain output of ${buffer.byteLength} bytes is not a whole number of ${RECORD_SIZE}-byte records`);
  const view = new DataView(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  const rows = buffer.byteLength / RECORD_SIZE;
  const c = newColumns(rows + SPARE_ROWS);
  const endCgroups: number[] = [];
  // Distinct addresses (key: family, 16 address bytes) by number, each with its text, made once.
  const addresses = new KeyTable();
  const texts: string[] = [];
  // By address number: its end without a socket, -1 until made.
  const plainEnd: number[] = [];
  // The cgroup table: distinct (address number, cgroup id), and the end of each by their number.
  const sockets = new KeyTable();
  const socketEnd: number[] = [];
  // Transport number of each IP protocol, -1 until seen.
  const transports = new Int16Array(256).fill(-1);

  const addressAt = (off: number, v6: boolean): number => {
    const k = addresses.key;
    k[0] = v6 ? 6 : 4;
    k[1] = view.getUint32(off, true);
    k[2] = v6 ? view.getUint32(off + 4, true) : 0;
    k[3] = v6 ? view.getUint32(off + 8, true) : 0;
    k[4] = v6 ? view.getUint32(off + 12, true) : 0;
    let address = addresses.find();
    if (address < 0) {
      address = addresses.add();
      texts.push(v6 ? ipv6(view, off) : ipv4(view, off));
      plainEnd.push(-1);
    }
    return address;
  };
  const newEnd = (address: number, cgroupId: number): number => {
    endCgroups.push(cgroupId);
    return c.ends.push(Object.freeze({ address: texts[address]!, port: 0 })) - 1;
  };
  const endOf = (address: number, cgroupId: number): number => {
    if (cgroupId === 0) {
      let end = plainEnd[address]!;
      if (end < 0) plainEnd[address] = end = newEnd(address, 0);
      return end;
    }
    const k = sockets.key;
    k[0] = address;
    k[1] = cgroupId % 0x1_0000_0000;
    k[2] = cgroupId / 0x1_0000_0000;
    let socket = sockets.find();
    if (socket < 0) {
      socket = sockets.add();
      socketEnd.push(newEnd(address, cgroupId));
    }
    return socketEnd[socket]!;
  };

  // The ends of the record before: the addon puts the flows of one address pair
  // next to each other, so most records repeat them (no lookup then).
  const same = new Uint32Array(8);
  let sameFamily = -1;
  let sameCgroup = -1;
  let src = -1;
  let dst = -1;
  const repeats = (off: number, family: number, cgroupId: number): boolean => {
    let repeat = family === sameFamily && cgroupId === sameCgroup;
    for (let w = 0; w < 8; w++) {
      const word = view.getUint32(off + w * 4, true);
      if (word !== same[w]) {
        repeat = false;
        same[w] = word;
      }
    }
    sameFamily = family;
    sameCgroup = cgroupId;
    return repeat;
  };

  for (let i = 0, off = 0; i < rows; i++, off += RECORD_SIZE) {
    const family = view.getUint8(off + FAMILY);
    const v6 = family === 6;
    const cgroupId = cgroups ? u64(view, off + CGROUP_ID) : 0;
    if (!repeats(off, family, cgroupId)) {
      src = endOf(addressAt(off + SADDR, v6), cgroupId);
      dst = endOf(addressAt(off + DADDR, v6), 0);
    }
    c.src[i] = src;
    c.dst[i] = dst;
    c.srcPort[i] = view.getUint16(off + SPORT);
    c.dstPort[i] = view.getUint16(off + DPORT);
    const protocol = view.getUint8(off + PROTOCOL);
    let transport = transports[protocol]!;
    if (transport < 0) transport = transports[protocol] = transportCode(c, transportName(protocol));
    c.transport[i] = transport;
    c.family[i] = v6 ? 1 : 0;
    c.bytes[i] = u64(view, off + KEY_SIZE);
    c.packets[i] = u64(view, off + KEY_SIZE + 8);
  }
  c.length = rows;
  return cgroups ? { columns: c, endCgroups } : { columns: c };
}

/** Overflow counters of one family: every CPU's struct overflow_counters summed. */
export interface OverflowCounters {
  bytes: number;
  packets: number;
  failedInserts: number;
}

/** Sums per-CPU copies of struct overflow_counters (3 x u64, 24 bytes each). */
export function sumOverflow(buffer: Uint8Array): OverflowCounters {
  const view = new DataView(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  const sum = { bytes: 0, packets: 0, failedInserts: 0 };
  for (let off = 0; off + 24 <= buffer.byteLength; off += 24) {
    sum.bytes += u64(view, off);
    sum.packets += u64(view, off + 8);
    sum.failedInserts += u64(view, off + 16);
  }
  return sum;
}
