/**
 * A map from CIDR blocks to values with longest-prefix lookup: which node's
 * pod CIDR, or which external block, an address falls in. One Map per
 * (family, prefix length) in use, so a lookup costs one parse and one Map
 * get per distinct prefix length (a cluster has one or two), whatever the
 * number of blocks. IPv4 tables are keyed by number, not bigint: an IPv4
 * lookup then makes no bigint and hashes small integers, which with a
 * provider's ~25 prefix lengths is what keeps 10k external prefixes cheap
 * (bench/k8sattributes.bench.ts).
 */
import { ipv4ToNumber, parseAddress } from './address.ts';
import type { Cidr } from './cidr.ts';

interface PrefixTable<T> {
  family: 4 | 6;
  prefix: number;
  mask: bigint;
  /** IPv4: the mask as an unsigned 32-bit number. */
  mask4: number;
  /** Network -> value: a number for IPv4, a bigint for IPv6. */
  byNetwork: Map<bigint | number, T>;
}

/** The key of `network` in a table of `family`. */
const keyOf = (family: 4 | 6, network: bigint): bigint | number => (family === 4 ? Number(network) : network);

export class CidrMap<T> {
  /** Longest prefix first, IPv4 and IPv6 mixed (a lookup skips the other family). */
  #tables: PrefixTable<T>[] = [];
  #size = 0;

  /** Number of blocks. */
  get size(): number {
    return this.#size;
  }

  /** Maps `cidr` to `value`, replacing what the same block had. */
  set(cidr: Cidr, value: T): void {
    let table = this.#tables.find((t) => t.family === cidr.family && t.prefix === cidr.prefix);
    if (!table) {
      table = { family: cidr.family, prefix: cidr.prefix, mask: cidr.mask, mask4: cidr.family === 4 ? Number(cidr.mask) : 0, byNetwork: new Map() };
      this.#tables.push(table);
      this.#tables.sort((a, b) => b.prefix - a.prefix);
    }
    const key = keyOf(cidr.family, cidr.network);
    if (!table.byNetwork.has(key)) this.#size++;
    table.byNetwork.set(key, value);
  }

  /** Removes `cidr` if it maps to `value` (a block another owner took since is left alone). */
  delete(cidr: Cidr, value: T): void {
    const i = this.#tables.findIndex((t) => t.family === cidr.family && t.prefix === cidr.prefix);
    const table = this.#tables[i];
    const key = table === undefined ? 0 : keyOf(cidr.family, cidr.network);
    if (!table || table.byNetwork.get(key) !== value) return;
    table.byNetwork.delete(key);
    this.#size--;
    if (table.byNetwork.size === 0) this.#tables.splice(i, 1);
  }

  /** The value of the longest block containing `address` (text), or undefined. */
  lookup(address: string): T | undefined {
    if (this.#size === 0) return undefined;
    const v4 = ipv4ToNumber(address);
    if (v4 >= 0) {
      for (const t of this.#tables) {
        if (t.family !== 4) continue;
        const hit = t.byNetwork.get((v4 & t.mask4) >>> 0);
        if (hit !== undefined) return hit;
      }
      return undefined;
    }
    const ip = parseAddress(address);
    if (!ip) return undefined;
    for (const t of this.#tables) {
      if (t.family !== ip.family) continue;
      const hit = t.byNetwork.get(ip.value & t.mask);
      if (hit !== undefined) return hit;
    }
    return undefined;
  }
}
