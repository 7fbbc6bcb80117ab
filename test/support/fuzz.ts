/**
 * Test support for fuzz tests: a seeded random source (a failure names its
 * seed, and the same seed gives the same inputs again) and the byte-level
 * mutations any input can take: bit flips, random bytes written over or
 * inserted, a range deleted, a truncation. Format-specific mutations (YAML
 * aliases, OTLP fields) belong to the test that knows the format.
 */

/** A seeded source of random numbers (mulberry32): small, fast, and the same sequence for the same seed. */
export class SeededRandom {
  #state: number;

  constructor(seed: number) {
    this.#state = seed >>> 0;
  }

  /** A float in [0, 1). */
  next(): number {
    let t = (this.#state = (this.#state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** An integer in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(0, items.length - 1)]!;
  }

  bytes(length: number): Buffer {
    return Buffer.from(Array.from({ length }, () => this.int(0, 255)));
  }
}

/** The seed of a fuzz run: ZT_FUZZ_SEED when set (to replay a failure), otherwise `fallback` (make test stays reproducible). */
export function fuzzSeed(fallback: number): number {
  const given = Number(process.env.ZT_FUZZ_SEED);
  return Number.isInteger(given) && given > 0 ? given : fallback;
}

/** Byte-level mutations; each returns a new buffer. */
export const byteMutations: Record<string, (input: Buffer, random: SeededRandom) => Buffer> = {
  flipBits(input, random) {
    const out = Buffer.from(input);
    for (let n = random.int(1, 8); n > 0 && out.length > 0; n--) out[random.int(0, out.length - 1)]! ^= 1 << random.int(0, 7);
    return out;
  },
  overwrite(input, random) {
    const out = Buffer.from(input);
    const at = random.int(0, Math.max(0, out.length - 1));
    random.bytes(random.int(1, 16)).copy(out, at);
    return out;
  },
  insert(input, random) {
    const at = random.int(0, input.length);
    return Buffer.concat([input.subarray(0, at), random.bytes(random.int(1, 16)), input.subarray(at)]);
  },
  deleteRange(input, random) {
    const at = random.int(0, input.length);
    return Buffer.concat([input.subarray(0, at), input.subarray(Math.min(input.length, at + random.int(1, 64)))]);
  },
  truncate(input, random) {
    return input.subarray(0, random.int(0, input.length));
  },
};
