/**
 * Test support: waiting on conditions instead of clocks. A test that sleeps a
 * fixed time and then asserts passes on a quiet machine and fails on a loaded
 * 2-core CI runner; one that polls for the condition it needs only gets slower.
 *
 * until() polls a probe until it gives a value; eventually() retries an
 * assertion until it holds. Both give up after `timeoutMs` (30 s by default:
 * an upper bound for a loaded machine, not an expected duration) with an
 * error that says what was awaited, plus `details()` (logs, say).
 */
import { AssertionError } from 'node:assert';
import { setTimeout as delay } from 'node:timers/promises';

export interface WaitOptions {
  /** Give up after this long; default 30 s. */
  timeoutMs?: number;
  /** Pause between attempts; default 20 ms. */
  intervalMs?: number;
  /** Appended to the error on timeout: the logs of the processes involved, say. */
  details?: () => string;
}

const DEFAULT_TIMEOUT_MS = 30_000;
const DEFAULT_INTERVAL_MS = 20;

/**
 * Resolves after `ms`. For pacing (sending at a rate, giving a process time to
 * misbehave); never to wait for something to have happened: use until().
 */
export function sleep(ms: number): Promise<void> {
  return delay(ms);
}

/**
 * Retries `check` until it returns without throwing, and returns what it
 * returned. On timeout, throws the last error (an AssertionError keeps its
 * diff), with `details()` appended to its message.
 */
export function eventually<T>(check: () => T | Promise<T>, options: WaitOptions = {}): Promise<T> {
  return retry(check, options, () => false);
}

/** The one polling loop: retries `attempt` until it returns, `fatal(error)` or the timeout. */
async function retry<T>(attempt: () => T | Promise<T>, options: WaitOptions, fatal: (err: unknown) => boolean): Promise<T> {
  const deadline = Date.now() + (options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
  for (;;) {
    try {
      return await attempt();
    } catch (err) {
      if (fatal(err)) throw err;
      if (Date.now() >= deadline) {
        if (options.details && err instanceof Error) err.message += `\n--- details ---\n${options.details().slice(-4000)}`;
        throw err;
      }
    }
    await delay(options.intervalMs ?? DEFAULT_INTERVAL_MS);
  }
}

/** What until() treats as "not yet". */
type NotYet = undefined | null | false;

/**
 * Polls `probe` until it returns something other than undefined, null or
 * false, and returns that. A probe that throws (a server not listening yet)
 * counts as "not yet", and its last error is in the timeout message; an
 * assertion that fails inside the probe (a process that exited early) fails
 * at once.
 */
export async function until<T>(what: string, probe: () => T | Promise<T>, options: WaitOptions = {}): Promise<Exclude<T, NotYet>> {
  const attempt = async () => {
    let value: T;
    try {
      value = await probe();
    } catch (err) {
      if (err instanceof AssertionError) throw err;
      throw new Error(`timed out waiting for ${what} (last attempt: ${(err as Error).message})`, { cause: err });
    }
    if (value === undefined || value === null || value === false) throw new Error(`timed out waiting for ${what}`);
    return value as Exclude<T, NotYet>;
  };
  return retry(attempt, options, (err) => err instanceof AssertionError);
}

/**
 * Polls `read` until its value (compared as JSON) has not changed for
 * `quietMs`, and returns that value: for counts fed on intervals, `quietMs`
 * being a few of them, so that something counted twice would have shown.
 */
export async function settled<T>(what: string, read: () => Promise<T>, quietMs: number, options: WaitOptions = {}): Promise<T> {
  let last = JSON.stringify(await read());
  let since = Date.now();
  return until(`${what} to settle`, async () => {
    const value = await read();
    const text = JSON.stringify(value);
    if (text !== last) {
      last = text;
      since = Date.now();
      return undefined;
    }
    return Date.now() - since >= quietMs ? { value } : undefined;
  }, { intervalMs: 100, ...options }).then((r) => r.value);
}
