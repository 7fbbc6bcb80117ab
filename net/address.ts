/**
 * IP address text as numbers. `ipv4ToNumber` is written for ~1M calls/s (the
 * per-flow path): IPv4 text is read into a uint32 without splitting or BigInt;
 * `parseAddress` handles both families for the rarer lookups.
 */
import { isIP } from 'node:net';

/** An address as an unsigned integer of its family's width. */
export interface AddressValue {
  value: bigint;
  family: 4 | 6;
}

/** The address as a bigint with its family, or undefined when `text` is not an IP address. IPv4-mapped IPv6 text is read as IPv6. */
export function parseAddress(text: string): AddressValue | undefined {
  const family = isIP(text);
  if (family === 4) {
    const v4 = ipv4ToNumber(text);
    return { value: BigInt(v4), family: 4 };
  }
  if (family === 6) {
    let rest = text;
    const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(rest);
    if (v4) {
      const n = ipv4ToNumber(v4[1]!);
      rest = rest.slice(0, -v4[1]!.length) + `${(n >>> 16).toString(16)}:${(n & 0xffff).toString(16)}`;
    }
    const [head, tail] = rest.split('::') as [string, string | undefined];
    const h = head ? head.split(':') : [];
    const t = tail ? tail.split(':') : [];
    const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
    let value = 0n;
    for (const g of groups) value = (value << 16n) | BigInt(parseInt(g, 16));
    return { value, family: 6 };
  }
  return undefined;
}

/** The IPv4 address as an unsigned 32-bit number, or -1 when `text` is not a dotted quad. */
export function ipv4ToNumber(text: string): number {
  let value = 0;
  let part = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 46 /* . */) {
      if (digits === 0 || dots === 3) return -1;
      value = value * 256 + part;
      part = 0;
      digits = 0;
      dots++;
    } else if (c >= 48 && c <= 57 && digits < 3) {
      part = part * 10 + (c - 48);
      if (part > 255) return -1;
      digits++;
    } else {
      return -1;
    }
  }
  if (dots !== 3 || digits === 0) return -1;
  return value * 256 + part;
}

/** Canonical text of an IP address (lower case, IPv6 compressed), as the receivers print it. */
export function canonicalAddress(text: string): string {
  return isIP(text) === 6 ? new URL(`http://[${text}]/`).hostname.slice(1, -1) : text;
}
