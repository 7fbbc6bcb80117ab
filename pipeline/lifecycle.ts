/**
 * Start/stop rules in one place, so components need no guards of their own:
 * start() runs at most once, shutdown() at most once, a shutdown waits for a
 * start still in flight (whose signal it aborts first), and nothing starts
 * after shutdown began.
 */
import type { Component, LifecycleContext } from './component.ts';

/** A context that never expires and is never aborted. */
export const NO_DEADLINE: LifecycleContext = Object.freeze({ signal: new AbortController().signal, deadline: Infinity });

/** A context whose signal aborts after `ms` (and when `parent` aborts). */
export function contextWithTimeout(ms: number, parent?: AbortSignal): LifecycleContext {
  const timeout = AbortSignal.timeout(Math.max(0, ms));
  return { signal: parent ? AbortSignal.any([timeout, parent]) : timeout, deadline: Date.now() + ms };
}

/**
 * How long after a shutdown's deadline the service (and a reload) stops waiting for a component.
 * Components finish by their deadline, and some end on it: closing an exporter or waiting for
 * requests in flight "until the deadline". Were the service to give up at that same instant, which
 * of two timers fired first would decide whether a component that kept its deadline counted as
 * stopped or as hung (an exit code of 1 for a clean stop, now and then). The grace lets the
 * component's own verdict arrive first; one that ignores its deadline holds the stop this much longer.
 */
export const SHUTDOWN_GRACE_MS = 500;

/**
 * A shutdown's context for components (its signal aborts at the deadline, `timeoutMs` from now, or
 * when `parent` aborts) and the signal at which the caller stops waiting for them: the deadline
 * plus SHUTDOWN_GRACE_MS, or `parent`.
 */
export function shutdownContext(timeoutMs: number, parent?: AbortSignal): { context: LifecycleContext; giveUp: AbortSignal } {
  const giveUp = AbortSignal.timeout(Math.max(0, timeoutMs) + SHUTDOWN_GRACE_MS);
  return { context: contextWithTimeout(timeoutMs, parent), giveUp: parent ? AbortSignal.any([giveUp, parent]) : giveUp };
}

/** Milliseconds left before `context.deadline` (never negative; Infinity without one). */
export function remainingMs(context: LifecycleContext): number {
  return Math.max(0, context.deadline - Date.now());
}

/** Wraps one component: the service talks to components only through this. */
export class Lifecycle {
  readonly component: Component;
  readonly #startAbort = new AbortController();
  #started: Promise<void> | undefined;
  #stopped: Promise<void> | undefined;

  constructor(component: Component) {
    this.component = component;
  }

  /** Starts the component once; later calls return the first call's promise. Rejects after shutdown() began. */
  start(context: LifecycleContext = NO_DEADLINE): Promise<void> {
    if (this.#stopped) return Promise.reject(new Error('start() after shutdown()'));
    this.#started ??= (async () => {
      const signal = AbortSignal.any([context.signal, this.#startAbort.signal]);
      await this.component.start({ signal, deadline: context.deadline });
    })();
    return this.#started;
  }

  /** Shuts the component down once, after any start in flight settles; later calls return the first call's promise. */
  shutdown(context: LifecycleContext = NO_DEADLINE): Promise<void> {
    this.#stopped ??= (async () => {
      this.#startAbort.abort(new Error('shutting down'));
      await this.#started?.catch(() => undefined);
      await this.component.shutdown(context);
    })();
    return this.#stopped;
  }
}
