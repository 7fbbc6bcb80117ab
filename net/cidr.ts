/** CIDR blocks (`10.0.0.0/8`, `fd00::/8`): parsing and membership. */
import { parseAddress } from './address.ts';

export interface Cidr {
  /** As written in the config. */
  text: string;
  family: 4 | 6;
  /** Network address (host bits cleared) and the mask, as integers of the family's width. */
  network: bigint;
  mask: bigint;
  prefix: number;
}

/** The block, or undefined when `text` is not `address/prefix` (a bare address is a /32 or /128). */
export function parseCidr(text: string): Cidr | undefined {
  const [addr, len, extra] = text.split('/');
  if (!addr || extra !== undefined) return undefined;
  const ip = parseAddress(addr);
  if (!ip) return undefined;
  const bits = ip.family === 4 ? 32 : 128;
  const prefix = len === undefined ? bits : /^\d{1,3}$/.test(len) ? Number(len) : NaN;
  if (!(prefix >= 0 && prefix <= bits)) return undefined;
  const mask = prefix === 0 ? 0n : ((1n << BigInt(prefix)) - 1n) << BigInt(bits - prefix);
  return { text, family: ip.family, network: ip.value & mask, mask, prefix };
}

/** True when `address` (text) is inside `cidr`; false for text that is no address or of the other family. */
export function cidrContains(cidr: Cidr, address: string): boolean {
  const ip = parseAddress(address);
  return ip !== undefined && ip.family === cidr.family && (ip.value & cidr.mask) === cidr.network;
}

/** True when the two blocks share an address (one contains the other). */
export function cidrsOverlap(a: Cidr, b: Cidr): boolean {
  if (a.family !== b.family) return false;
  const mask = a.prefix < b.prefix ? a.mask : b.mask;
  return (a.network & mask) === (b.network & mask);
}
