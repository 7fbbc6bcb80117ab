/**
 * How one data point is applied to its stream: the rules of each
 * temporality (receivers/otlp/README.md "Each byte once"), and what makes a
 * point invalid. Pure functions of the stream's last point and the new one.
 */
import type { PointState } from './entries.ts';

/** What a point says: its interval and value (start 0 when it has none). */
export interface PointFacts {
  readonly startNs: number;
  readonly timeNs: number;
  readonly value: number;
}

/**
 * What a point adds to its stream, and from when (`reset`: a cumulative
 * series seen new, whose whole value counts); undefined when it adds nothing (stale).
 */
export type Step = { delta: number; fromNs: number; reset?: true } | undefined;

/**
 * The most one point may add to a stream (2^53 - 1: 9 PB, as many packets or
 * dollars). Any sum of such steps stays finite and exact far beyond any real
 * count, so no sender can push a counter to +Inf or make it stop moving.
 */
export const MAX_STEP = Number.MAX_SAFE_INTEGER;

/**
 * Why a point cannot be applied, or undefined when it can: no time, a value
 * that is not a finite number >= 0, a start after its time, or a time more
 * than `maxSkewNs` ahead of `nowNs` (such a point would make every later one
 * look old, freezing the stream).
 */
export function invalidPoint(p: PointFacts, nowNs: number, maxSkewNs: number): string | undefined {
  if (p.timeNs === 0) return 'no time';
  if (!Number.isFinite(p.value) || p.value < 0) return `value ${p.value}`;
  if (p.startNs > p.timeNs) return 'start after time';
  if (p.timeNs > nowNs + maxSkewNs) return 'time in the future';
  return undefined;
}

/**
 * A cumulative point against the stream's last one: the increase since it,
 * the whole value for a new series (first point, later start time, or a
 * lower value: a reset).
 */
export function cumulativeStep(last: PointState | undefined, p: PointFacts): Step {
  if (!last) return { delta: p.value, fromNs: p.startNs || p.timeNs, reset: true };
  if (p.startNs === last.startNs) {
    if (p.timeNs <= last.timeNs) return undefined;
    if (p.value >= last.value) return { delta: p.value - last.value, fromNs: last.timeNs };
    return { delta: p.value, fromNs: last.timeNs, reset: true };
  }
  if (p.startNs > last.startNs) return { delta: p.value, fromNs: p.startNs, reset: true };
  return undefined;
}

/**
 * A delta point: what the agent counted since `startNs`, its last
 * acknowledged export. A window stays open until the agent gets an
 * acknowledgement, so a point whose start equals the window this gateway
 * last applied carries that window's running total: only the increase is
 * new (an exact re-send adds nothing). A later start opens a new window,
 * applied whole; an earlier start, an older time or a smaller value in the
 * same window is a late or repeated request. Points without a start time
 * (plain delta senders) are told apart by their time alone.
 */
export function deltaStep(last: PointState | undefined, p: PointFacts): Step {
  if (!last) return { delta: p.value, fromNs: p.startNs || p.timeNs };
  if (p.startNs === 0 || p.startNs > last.startNs) {
    if (p.startNs === 0 && p.timeNs <= last.timeNs) return undefined;
    return { delta: p.value, fromNs: p.startNs || last.timeNs };
  }
  if (p.startNs === last.startNs && p.timeNs > last.timeNs && p.value >= last.value) return { delta: p.value - last.value, fromNs: last.timeNs };
  return undefined;
}
