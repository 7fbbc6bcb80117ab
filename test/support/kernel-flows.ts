/**
 * Test support for the kernel receivers: what known traffic looks like on the
 * wire, and sums over the records the receivers emit.
 */
import type { FlowRecord } from '../../pipeline/flow.ts';

/** The veth MTU of test-netns.ts. */
export const MTU = 1500;

/**
 * Wire bytes and packets of one UDP datagram with `payload` bytes. Below the
 * MTU it is one IP packet: IP header (20, or 40 for IPv6) + UDP header (8) +
 * payload. Above, Linux fragments it into pieces carrying (MTU - IP header
 * [- 8-byte IPv6 fragment header]) rounded down to 8 bytes of the UDP
 * datagram each, every piece with its own header(s).
 */
export function udpWire(payload: number, v6: boolean): { bytes: number; packets: number } {
  return datagramWire(8 + payload, v6);
}

/** Wire bytes and packets of an ICMP echo request with `data` bytes of data (ping -s). */
export function pingWire(data: number, v6: boolean): { bytes: number; packets: number } {
  return datagramWire(8 + data, v6);
}

function datagramWire(l4: number, v6: boolean): { bytes: number; packets: number } {
  const ipHeader = v6 ? 40 : 20;
  if (ipHeader + l4 <= MTU) return { bytes: ipHeader + l4, packets: 1 };
  const perFragment = v6 ? ipHeader + 8 : ipHeader;
  const chunk = (MTU - perFragment) & ~7;
  const packets = Math.ceil(l4 / chunk);
  return { bytes: l4 + packets * perFragment, packets };
}

/**
 * Wire bytes and packets of one TCP connection that sent `payload` bytes in
 * `segments` segments: each an IP header and a 20-byte TCP header (test-netns
 * tests turn timestamps, SACK and window scaling off), plus the SYN's 4-byte MSS option.
 */
export function tcpWire(payload: number, segments: number, v6: boolean): { bytes: number; packets: number } {
  return { bytes: payload + segments * ((v6 ? 40 : 20) + 20) + 4, packets: segments };
}

/** The records matching every given field. */
export function only(records: FlowRecord[], match: Partial<{ src: string; dst: string; sport: number; dport: number; transport: string; podUid: string }>): FlowRecord[] {
  return records.filter(
    (r) =>
      (match.src === undefined || r.src.address === match.src) &&
      (match.dst === undefined || r.dst.address === match.dst) &&
      (match.sport === undefined || r.src.port === match.sport) &&
      (match.dport === undefined || r.dst.port === match.dport) &&
      (match.transport === undefined || r.transport === match.transport) &&
      (match.podUid === undefined || r.src.podUid === match.podUid),
  );
}

/** Sums records that may be split over several batches. */
export function total(records: FlowRecord[]): { bytes: number; packets: number } {
  return records.reduce((t, r) => ({ bytes: t.bytes + r.bytes, packets: t.packets + r.packets }), { bytes: 0, packets: 0 });
}
