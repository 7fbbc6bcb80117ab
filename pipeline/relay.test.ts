/**
 * The Relay a receiver or processor hands batches to: pointed elsewhere while
 * in use, and held for a swap (batches wait, none is lost or delivered twice).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MUTATES_DATA, READ_ONLY } from './component.ts';
import type { FlowConsumer } from './component.ts';
import type { FlowBatch } from './flow.ts';
import { Relay } from './relay.ts';

const batch = (n: number): FlowBatch => ({ start: n, end: n + 1, records: [] });

/** Records batch starts; consume() waits until release() when `gated`. */
function target(gated = false) {
  const got: number[] = [];
  let open!: () => void;
  const gate = gated ? new Promise<void>((resolve) => (open = resolve)) : Promise.resolve();
  const consumer: FlowConsumer = {
    capabilities: READ_ONLY,
    async consume(b) {
      await gate;
      got.push(b.start);
    },
  };
  return { consumer, got, release: () => open() };
}

describe('Relay', () => {
  it('delivers to the target it is connected to; a new target gets the batches from then on', async () => {
    const relay = new Relay();
    await assert.rejects(relay.consume(batch(0)), /relay is not connected/);
    const [a, b] = [target(), target()];
    relay.connect(a.consumer);
    await relay.consume(batch(1));
    relay.connect(b.consumer);
    await relay.consume(batch(2));
    assert.deepEqual([a.got, b.got], [[1], [2]]);
    assert.equal(relay.capabilities, READ_ONLY);
    relay.connect({ capabilities: MUTATES_DATA, consume: async () => {} });
    assert.equal(relay.capabilities, MUTATES_DATA, 'the capabilities of its current target');
  });

  it('hold() waits for the batch on its way, keeps new ones until release(), which sends them to the new target', async () => {
    const relay = new Relay();
    const [before, after] = [target(true), target()];
    relay.connect(before.consumer);
    const inFlight = relay.consume(batch(1));
    let held = false;
    const holding = relay.hold(new AbortController().signal).then(() => (held = true));
    const waiting = relay.consume(batch(2));
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(held, false, 'hold() waits for the batch already on its way');
    before.release();
    await Promise.all([inFlight, holding]);
    relay.connect(after.consumer);
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual([before.got, after.got], [[1], []], 'the batch handed over while held waits');
    relay.release();
    await waiting;
    assert.deepEqual([before.got, after.got], [[1], [2]]);
  });

  it('hold() stops waiting when its signal aborts (a downstream that never finishes)', async () => {
    const relay = new Relay();
    relay.connect(target(true).consumer);
    void relay.consume(batch(1));
    const abort = new AbortController();
    const holding = relay.hold(abort.signal);
    abort.abort();
    await holding;
    assert.equal(relay.holding, true);
    relay.release();
    assert.equal(relay.holding, false);
  });
});
