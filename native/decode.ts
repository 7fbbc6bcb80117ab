/**
 * Decodes the addon's drain output: one record per flow, laid out as
 * bpf/flows.h's struct flow_key (48 bytes) then u64 bytes and u64 packets in
 * host (little-endian) byte order. Done here rather than in C so that the addon
 * stays a thin syscall layer; plain DataView reads keep 1M flows fast.
 */
import type { FlowRecord, IpFamily, Transport } from '../pipeline/flow.ts';

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

/**
 * Decodes every record of a drain. With `cgroupIds`, also the sending
 * socket's cgroup id of each record (0 when the hook had no socket), by index.
 */
export function decodeFlows(buffer: Uint8Array, cgroupIds?: number[]): FlowRecord[] {
  if (buffer.byteLength % RECORD_SIZE !== 0) throw new Error(`drain output of ${buffer.byteLength} bytes is not a whole number of ${RECORD_SIZE}-byte records`);
  const view = new DataView(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  const records: FlowRecord[] = [];
  for (let off = 0; off < buffer.byteLength; off += RECORD_SIZE) {
    if (cgroupIds !== undefined) cgroupIds.push(u64(view, off + CGROUP_ID));
    const v6 = view.getUint8(off + FAMILY) === 6;
    const ipFamily: IpFamily = v6 ? 'ipv6' : 'ipv4';
    records.push({
      src: { address: v6 ? ipv6(view, off + SADDR) : ipv4(view, off + SADDR), port: view.getUint16(off + SPORT) },
      dst: { address: v6 ? ipv6(view, off + DADDR) : ipv4(view, off + DADDR), port: view.getUint16(off + DPORT) },
      transport: transportName(view.getUint8(off + PROTOCOL)),
      ipFamily,
      bytes: u64(view, off + KEY_SIZE),
      packets: u64(view, off + KEY_SIZE + 8),
    });
  }
  return records;
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
