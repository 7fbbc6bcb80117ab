/**
 * How zonetap states amounts, in advice, the console exporter's live view
 * and the demo: a rate projected to a month, dollars, bytes.
 */

const HOURS_PER_MONTH = 730;

/** USD per second -> projected USD per month (730 hours, as cloud price sheets count). */
export const monthly = (usdPerSecond: number) => usdPerSecond * HOURS_PER_MONTH * 3600;
/** PromQL's factor for the same projection. */
export const MONTHLY_PROMQL_FACTOR = `${HOURS_PER_MONTH} * 3600`;

export function formatBytes(n: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let i = 0;
  while (n >= 1000 && i < units.length - 1) (n /= 1000), i++;
  return `${n >= 100 || i === 0 ? n.toFixed(0) : n.toFixed(1)} ${units[i]}`;
}

export function formatUsd(n: number): string {
  return n >= 100 ? `$${Math.round(n).toLocaleString('en-US')}` : `$${n.toFixed(2)}`;
}
