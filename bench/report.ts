/**
 * How a benchmark hands its headline figures to `make bench` (bench/run.ts):
 * one `result()` per figure, printed as a marked JSON line that run.ts
 * collects into bench/RESULTS.md and the README's benchmark table. The
 * figure and its baseline come from the same run; nothing is typed in by hand.
 */

export interface BenchResult {
  /** What is measured, e.g. "eBPF added ns/packet, 1 flow". */
  measure: string;
  /** zonetap's figure, with its unit. */
  value: string;
  /** The same measure for the baseline in the same run, with what the baseline is. */
  baseline?: string;
  /** The goal and whether it is met, e.g. "ratio <= 0.45: met". */
  goal?: string;
}

export const RESULT_MARK = '::zonetap-bench-result::';

export function result(r: BenchResult): void {
  console.log(`${RESULT_MARK}${JSON.stringify(r)}`);
}

/** `goal` text: the condition and whether it holds. */
export function goal(text: string, met: boolean): string {
  return `${text}: ${met ? 'met' : 'NOT met'}`;
}
