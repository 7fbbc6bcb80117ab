/**
 * The `next` a receiver or processor is created with. The graph points it at
 * the component's downstream, and a configuration reload points it somewhere
 * else while the component keeps running: that is what lets a receiver carry
 * over a reload with its kernel tables, and a processor with its caches, when
 * what follows them changes.
 *
 * For the moment of the swap a relay can hold: batches handed to it wait
 * (their consume() stays pending, which receivers already treat as back
 * pressure) until it is released, and then go to the new downstream. Nothing
 * is dropped and nothing is sent twice.
 */
import { MUTATES_DATA } from './component.ts';
import type { Capabilities, FlowConsumer } from './component.ts';
import type { FlowBatch } from './flow.ts';

export class Relay implements FlowConsumer {
  #target: FlowConsumer | undefined;
  /** Set while held: resolves when released. */
  #held: { released: Promise<void>; release: () => void } | undefined;
  #inFlight = 0;
  #onIdle: Array<() => void> = [];

  /** Those of the current downstream (a relay not yet connected assumes the worst). */
  get capabilities(): Capabilities {
    return this.#target?.capabilities ?? MUTATES_DATA;
  }

  /** Points the relay at `target`: batches handed over from now on go there. */
  connect(target: FlowConsumer): void {
    this.#target = target;
  }

  async consume(batch: FlowBatch): Promise<void> {
    while (this.#held) await this.#held.released;
    const target = this.#target;
    if (!target) throw new Error('relay is not connected to a downstream consumer');
    this.#inFlight++;
    try {
      await target.consume(batch);
    } finally {
      if (--this.#inFlight === 0) for (const resolve of this.#onIdle.splice(0)) resolve();
    }
  }

  /**
   * Holds batches handed over from now on until release(), and resolves once
   * the batches already on their way downstream have been consumed, or when
   * `signal` aborts (a downstream that never finishes must not stall a
   * reload). Holding a held relay only waits again.
   */
  async hold(signal: AbortSignal): Promise<void> {
    if (!this.#held) {
      let release!: () => void;
      const released = new Promise<void>((resolve) => (release = resolve));
      this.#held = { released, release };
    }
    if (this.#inFlight === 0 || signal.aborted) return;
    await new Promise<void>((resolve) => {
      this.#onIdle.push(resolve);
      signal.addEventListener('abort', () => resolve(), { once: true });
    });
  }

  /** Lets held batches (and later ones) through to the current downstream. */
  release(): void {
    const held = this.#held;
    this.#held = undefined;
    held?.release();
  }

  /** Whether the relay is holding batches (for tests and logs). */
  get holding(): boolean {
    return this.#held !== undefined;
  }
}
