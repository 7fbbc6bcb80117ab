/** The start/stop guard every component runs behind. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Component, LifecycleContext } from './component.ts';
import { Lifecycle, NO_DEADLINE, contextWithTimeout, remainingMs } from './lifecycle.ts';

function counting(start: (ctx: LifecycleContext) => Promise<void> = async () => {}): Component & { starts: number; shutdowns: number; log: string[] } {
  const c = {
    starts: 0,
    shutdowns: 0,
    log: [] as string[],
    async start(ctx: LifecycleContext) {
      c.starts++;
      c.log.push('start');
      await start(ctx);
      c.log.push('started');
    },
    async shutdown() {
      c.shutdowns++;
      c.log.push('shutdown');
    },
  };
  return c;
}

test('start and shutdown run once however often they are called', async () => {
  const c = counting();
  const l = new Lifecycle(c);
  await Promise.all([l.start(), l.start()]);
  await l.start();
  await Promise.all([l.shutdown(), l.shutdown()]);
  await l.shutdown();
  assert.deepEqual([c.starts, c.shutdowns], [1, 1]);
});

test('shutdown without start still reaches the component (it may hold resources from its constructor); start after it is refused', async () => {
  const c = counting();
  const l = new Lifecycle(c);
  await l.shutdown();
  await assert.rejects(l.start(), /start\(\) after shutdown\(\)/);
  assert.deepEqual([c.starts, c.shutdowns], [0, 1]);
});

test('a shutdown during start aborts the start signal and runs after the start settled', async () => {
  let signal: AbortSignal | undefined;
  const c = counting((ctx) => {
    signal = ctx.signal;
    return new Promise<void>((resolve) => ctx.signal.addEventListener('abort', () => resolve(), { once: true }));
  });
  const l = new Lifecycle(c);
  const starting = l.start();
  await l.shutdown();
  await starting;
  assert.equal(signal?.aborted, true);
  assert.deepEqual(c.log, ['start', 'started', 'shutdown']);
});

test('a failed start is reported to every caller, and shutdown still runs', async () => {
  const c = counting(async () => {
    throw new Error('port in use');
  });
  const l = new Lifecycle(c);
  await assert.rejects(l.start(), /port in use/);
  await assert.rejects(l.start(), /port in use/);
  await l.shutdown();
  assert.deepEqual([c.starts, c.shutdowns], [1, 1]);
});

test('contexts: a timeout context aborts at its deadline; NO_DEADLINE never does', async () => {
  assert.equal(remainingMs(NO_DEADLINE), Infinity);
  const ctx = contextWithTimeout(20);
  assert.ok(remainingMs(ctx) <= 20);
  await new Promise<void>((resolve) => ctx.signal.addEventListener('abort', () => resolve(), { once: true }));
  assert.equal(remainingMs(ctx), 0);
  const parent = new AbortController();
  const child = contextWithTimeout(60_000, parent.signal);
  parent.abort();
  assert.equal(child.signal.aborted, true, 'a parent abort reaches the child');
});
