/**
 * The live view's text: the zone-to-zone matrix, the top workload pairs by
 * cross-zone bytes/s with their monthly cost, and the projected monthly cost.
 * Shared by the console exporter and `zonetap demo` (sim/live-view.ts).
 */
import { formatBytes, formatUsd, monthly } from '../../advice/index.ts';
import { INTERNET, topPairs, type TrafficTotals } from './traffic.ts';

/** The zone-to-zone matrix of `rates` (bytes/s), zones as rows (from) and columns (to, then internet). */
export function renderMatrix(rates: TrafficTotals, zones: readonly string[], unit = '/s'): string {
  const columns = [...zones, INTERNET];
  const width = Math.max(12, ...zones.map((z) => z.length + 2));
  const cell = (text: string) => text.padStart(width);
  const lines = ['from \\ to'.padEnd(width) + columns.map(cell).join('')];
  for (const from of zones) {
    const row = columns.map((to) => {
      const v = rates.zones.get(`${from}\t${to}`) ?? 0;
      return cell(v > 0 ? `${formatBytes(v)}${unit}` : '-');
    });
    lines.push(from.padEnd(width) + row.join(''));
  }
  return lines.join('\n');
}

export interface TrafficViewOptions {
  zones: readonly string[];
  /** Workload pairs listed. */
  top: number;
  /** Whose prices, when known (`gcp`): said after the cost. */
  provider?: string;
}

/** The body of the live view, from per-second rates. */
export function renderTrafficView(rates: TrafficTotals, options: TrafficViewOptions): string {
  const out = ['Zone-to-zone traffic (bytes/s)', renderMatrix(rates, options.zones), '', 'Top workloads by cross-zone bytes/s'];
  const top = topPairs(rates, options.top);
  if (top.length === 0) out.push('  (waiting for the first flows)');
  top.forEach((p, i) =>
    out.push(`  ${i + 1}. ${`${p.src} -> ${p.dst}`.padEnd(52)} ${`${formatBytes(p.bytes)}/s`.padStart(11)}  ${formatUsd(monthly(p.usd)).padStart(9)}/month`),
  );
  const prices = options.provider ? ` at ${options.provider} prices` : '';
  out.push('', `Projected monthly cost of this traffic (cross-zone, cross-region, internet): ${formatUsd(monthly(rates.usd))}/month${prices}`);
  return out.join('\n');
}

/** One refresh as written to a terminal (screen cleared, view at the top) or to a file or pipe (a separator line first). */
export function frame(view: string, tty: boolean): string {
  return tty ? `\x1b[2J\x1b[H${view}\n` : `\n${'-'.repeat(80)}\n${view}\n`;
}
