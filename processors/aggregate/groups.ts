/** Smallest group table (slots; half as many groups). */
const MIN_SLOTS = 1 << 12;
/** Numbers per group in Groups#blocks. */
export const GROUP = 8;

/**
 * The groups of the batch being rolled up. An open-addressing hash table maps
 * (source end number, destination end number, rest key) to the group's
 * index; each group is one block of 8 numbers (its key, its first record or
 * row, its running sums: one cache line), so adding a record or row to a
 * group allocates nothing, hashes no string and touches no record object;
 * the output records are made once, at the end. Reused from batch to batch.
 */
export class Groups {
  /** Group index + 1 per slot (0: empty). A power of two, at least twice the groups. */
  #slots = new Int32Array(MIN_SLOTS);
  /**
   * Per group, GROUP numbers: source end number, destination end number, rest
   * key, index in the input of its first record or row (transport, IP family,
   * class and ignored mark come from it), bytes, packets, cost in USD, 1 when
   * some record of the group had a cost.
   */
  blocks = new Float64Array(GROUP * (MIN_SLOTS >> 1));
  count = 0;

  /** Empties the table for the next batch; gives memory back when the last batch used under 1/8 of it. */
  clear(): void {
    const size = this.#slots.length;
    if (size > MIN_SLOTS && this.count * 16 < size) {
      this.#slots = new Int32Array(MIN_SLOTS);
      this.blocks = new Float64Array(GROUP * (MIN_SLOTS >> 1));
    } else if (this.count > 0) {
      this.#slots.fill(0);
    }
    this.count = 0;
  }

  /**
   * Adds a record or row (input index `index`) to group (src, dst, rest),
   * which is created when new. `cost` is undefined when it has none.
   */
  add(src: number, dst: number, rest: number, bytes: number, packets: number, cost: number | undefined, index: number): void {
    const slots = this.#slots;
    const mask = slots.length - 1;
    const blocks = this.blocks;
    let slot = hash(src, dst, rest) & mask;
    for (;;) {
      const found = slots[slot]!;
      if (found === 0) break;
      const at = (found - 1) * GROUP;
      if (blocks[at] === src && blocks[at + 1] === dst && blocks[at + 2] === rest) {
        blocks[at + 4] = blocks[at + 4]! + bytes;
        blocks[at + 5] = blocks[at + 5]! + packets;
        if (cost !== undefined) {
          blocks[at + 6] = (blocks[at + 7] === 1 ? blocks[at + 6]! : 0) + cost;
          blocks[at + 7] = 1;
        }
        return;
      }
      slot = (slot + 1) & mask;
    }
    const g = this.count++;
    if ((g + 1) * GROUP > blocks.length) this.#grow();
    const b = this.blocks;
    const at = g * GROUP;
    b[at] = src;
    b[at + 1] = dst;
    b[at + 2] = rest;
    b[at + 3] = index;
    b[at + 4] = bytes;
    b[at + 5] = packets;
    b[at + 6] = cost ?? 0;
    b[at + 7] = cost !== undefined ? 1 : 0;
    slots[slot] = g + 1;
    if (this.count * 2 > slots.length) this.#rehash(slots.length * 2);
  }

  #grow(): void {
    const blocks = new Float64Array(this.blocks.length * 2);
    blocks.set(this.blocks);
    this.blocks = blocks;
  }

  #rehash(size: number): void {
    const slots = new Int32Array(size);
    const mask = size - 1;
    const b = this.blocks;
    for (let g = 0; g < this.count; g++) {
      const at = g * GROUP;
      let slot = hash(b[at]!, b[at + 1]!, b[at + 2]!) & mask;
      while (slots[slot] !== 0) slot = (slot + 1) & mask;
      slots[slot] = g + 1;
    }
    this.#slots = slots;
  }
}

function hash(src: number, dst: number, rest: number): number {
  let h = Math.imul(src, 0x9e3779b1) ^ Math.imul(dst + 0x7f4a7c15, 0x85ebca77) ^ Math.imul(rest + 1, 0xc2b2ae3d);
  h ^= h >>> 15;
  h = Math.imul(h, 0x2c1b3c6d);
  return h ^ (h >>> 13);
}
