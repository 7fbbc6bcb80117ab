/**
 * A map from CIDR blocks to values with longest-prefix lookup: which node's
 * pod CIDR, or which external block, an address falls in. One Map per
 * (family, prefix length) in use, so a lookup costs one parse and one Map
 * get per distinct prefix length (a cluster has one or two), whatever the
 * number of blocks.
 */
import { parseAddress } from './address.ts';
import type { Cidr } from './cidr.ts';

interface PrefixTable<T> {
  family: 4 | 6;
  prefix: number;
  mask: bigint;
  byNetwork: Map<bigint, T>;
}

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
      table = { family: cidr.family, prefix: cidr.prefix, mask: cidr.mask, byNetwork: new Map() };
      this.#tables.push(table);
      this.#tables.sort((a, b) => b.prefix - a.prefix);
    }
    if (!table.byNetwork.has(cidr.network)) this.#size++;
    table.byNetwork.set(cidr.network, value);
  }

  /** Removes `cidr` if it maps to `value` (a block another owner took since is left alone). */
  delete(cidr: Cidr, value: T): void {
    const i = this.#tables.findIndex((t) => t.family === cidr.family && t.prefix === cidr.prefix);
    const table = this.#tables[i];
    if (!table || table.byNetwork.get(cidr.network) !== value) return;
    table.byNetwork.delete(cidr.network);
    this.#size--;
    if (table.byNetwork.size === 0) this.#tables.splice(i, 1);
  }

  /** The value of the longest block containing `address` (text), or undefined. */
  lookup(address: string): T | undefined {
    if (this.#size === 0) return undefined;
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
