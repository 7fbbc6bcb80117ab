/**
 * Distinct keys of a few 32-bit words, numbered 0, 1, 2, ... in the order
 * first seen: how decode.ts finds the end of an address (16 bytes, and a
 * cgroup id) without a string or an object per flow. Open addressing with
 * linear probing over typed arrays, at most half full: it starts small (a
 * chunk of a drain has few distinct addresses: zeroing room for the worst
 * case would cost more than the lookups) and doubles as it fills.
 */

/** Words per key. */
export const KEY_WORDS = 5;

export class KeyTable {
  /** The key to look up or add: write its words here, then call find(). */
  readonly key = new Uint32Array(KEY_WORDS);
  /** Key number + 1 in each slot, 0 when empty. */
  #slots = new Int32Array(64);
  /** KEY_WORDS words per key number. */
  #keys = new Uint32Array(32 * KEY_WORDS);
  #size = 0;
  /** The hash of the key find() last looked up. */
  #hash = 0;

  /** The number of `key`, or -1 when it is not in the table (then add() adds it). */
  find(): number {
    const k = this.key;
    const h = (this.#hash = hash(k, 0));
    const keys = this.#keys;
    const slots = this.#slots;
    const mask = slots.length - 1;
    for (let s = h & mask; ; s = (s + 1) & mask) {
      const id = slots[s]! - 1;
      if (id < 0) return -1;
      const at = id * KEY_WORDS;
      if (keys[at] === k[0] && keys[at + 1] === k[1] && keys[at + 2] === k[2] && keys[at + 3] === k[3] && keys[at + 4] === k[4]) return id;
    }
  }

  /** Adds the key find() just did not find; returns its number. */
  add(): number {
    const id = this.#size++;
    if (2 * this.#size > this.#slots.length) this.#grow();
    this.#keys.set(this.key, id * KEY_WORDS);
    this.#place(this.#hash, id);
    return id;
  }

  #place(h: number, id: number): void {
    const slots = this.#slots;
    const mask = slots.length - 1;
    let s = h & mask;
    while (slots[s] !== 0) s = (s + 1) & mask;
    slots[s] = id + 1;
  }

  /** Twice the room; the keys there are placed again. */
  #grow(): void {
    const keys = new Uint32Array(this.#keys.length * 2);
    keys.set(this.#keys);
    this.#keys = keys;
    this.#slots = new Int32Array(this.#slots.length * 2);
    for (let id = 0; id < this.#size - 1; id++) this.#place(hash(keys, id * KEY_WORDS), id);
  }
}

/** A 32-bit mix of the KEY_WORDS words of `words` from `at` (murmur3-style multiplies). */
function hash(words: Uint32Array, at: number): number {
  let h = Math.imul(words[at]! ^ 0x9e3779b9, 0x85ebca6b);
  h = Math.imul(h ^ words[at + 1]! ^ (h >>> 15), 0xc2b2ae35);
  h = Math.imul(h ^ words[at + 2]! ^ (h >>> 13), 0x85ebca6b);
  h = Math.imul(h ^ words[at + 3]! ^ (h >>> 16), 0xc2b2ae35);
  h = Math.imul(h ^ words[at + 4]! ^ (h >>> 13), 0x85ebca6b);
  return h ^ (h >>> 15);
}
