/**
 * Distinct keys of a few 32-bit words, numbered 0, 1, 2, ... in the order
 * first seen: how decode.ts finds the end of an address (16 bytes, and a
 * cgroup id) without a string or an object per flow. Open addressing with
 * linear probing over typed arrays, sized once for the most keys it will hold.
 */

/** Words per key. */
export const KEY_WORDS = 5;

export class KeyTable {
  /** The key to look up or add: write its words here, then call find(). */
  readonly key = new Uint32Array(KEY_WORDS);
  /** Key number + 1 in each slot, 0 when empty. */
  readonly #slots: Int32Array;
  /** KEY_WORDS words per key number. */
  readonly #keys: Uint32Array;
  readonly #mask: number;
  #size = 0;
  /** The empty slot find() stopped at. */
  #free = -1;

  /** Room for `capacity` keys; the table is at most half full. */
  constructor(capacity: number) {
    let slots = 16;
    while (slots < 2 * capacity) slots *= 2;
    this.#slots = new Int32Array(slots);
    this.#keys = new Uint32Array(Math.max(capacity, 1) * KEY_WORDS);
    this.#mask = slots - 1;
  }

  get size(): number {
    return this.#size;
  }

  /** The number of `key`, or -1 when it is not in the table (then add() adds it). */
  find(): number {
    const k = this.key;
    const k0 = k[0]!;
    const k1 = k[1]!;
    const k2 = k[2]!;
    const k3 = k[3]!;
    const k4 = k[4]!;
    let h = Math.imul(k0 ^ 0x9e3779b9, 0x85ebca6b);
    h = Math.imul(h ^ k1 ^ (h >>> 15), 0xc2b2ae35);
    h = Math.imul(h ^ k2 ^ (h >>> 13), 0x85ebca6b);
    h = Math.imul(h ^ k3 ^ (h >>> 16), 0xc2b2ae35);
    h = Math.imul(h ^ k4 ^ (h >>> 13), 0x85ebca6b);
    h ^= h >>> 15;
    const keys = this.#keys;
    const slots = this.#slots;
    for (let s = h & this.#mask; ; s = (s + 1) & this.#mask) {
      const id = slots[s]! - 1;
      if (id < 0) {
        this.#free = s;
        return -1;
      }
      const at = id * KEY_WORDS;
      if (keys[at] === k0 && keys[at + 1] === k1 && keys[at + 2] === k2 && keys[at + 3] === k3 && keys[at + 4] === k4) return id;
    }
  }

  /** Adds the key find() did not find; returns its number. */
  add(): number {
    const id = this.#size++;
    if (this.#free < 0 || id * KEY_WORDS >= this.#keys.length) throw new Error('KeyTable.add() without a failed find(), or past its capacity');
    this.#keys.set(this.key, id * KEY_WORDS);
    this.#slots[this.#free] = id + 1;
    this.#free = -1;
    return id;
  }
}
