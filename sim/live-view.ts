/**
 * The demo's terminal view, computed from the gateway's Prometheus exposition:
 * the zone-to-zone matrix, the top workload pairs by cross-zone bytes/s, the
 * projected monthly cost, and the closing summary.
 */
import type { Sample } from './exposition.ts';

const BYTES = 'zonetap_network_flow_bytes_total';
const COST = 'zonetap_network_flow_cost_usd_total';
/** Classes billed as "crossing zones" (the culprits' classes). */
const CROSSING = new Set(['cross_zone', 'cross_region']);
const HOURS_PER_MONTH = 730;
export const INTERNET = 'internet';

/** Cumulative totals at one scrape. */
export interface TrafficTotals {
  at: number;
  /** `srcZone\tdstZone` (dstZone `internet` for the internet, `?` when unknown) -> bytes. */
  zones: Map<string, number>;
  /** `src workload\tdst workload` (`namespace/name`) -> bytes and USD, crossing classes only. */
  pairs: Map<string, { bytes: number; usd: number }>;
  crossingBytes: number;
  /** Every priced class (cross-zone, cross-region, internet). */
  usd: number;
}

const workloadOf = (labels: Record<string, string>, side: 'src' | 'dst'): string => {
  const name = labels[`k8s_${side}_owner_name`] ?? labels[`k8s_${side}_name`];
  if (name) return `${labels[`k8s_${side}_namespace`] ?? ''}/${name}`;
  if (labels.zonetap_traffic_class === INTERNET && side === 'dst') return INTERNET;
  return labels[`${side}_address`] ?? '?';
};

export function totalsOf(samples: readonly Sample[], at = Date.now()): TrafficTotals {
  const t: TrafficTotals = { at, zones: new Map(), pairs: new Map(), crossingBytes: 0, usd: 0 };
  const add = <K>(m: Map<K, number>, k: K, v: number) => m.set(k, (m.get(k) ?? 0) + v);
  for (const s of samples) {
    const cls = s.labels.zonetap_traffic_class ?? 'unknown';
    if (s.name === COST) {
      t.usd += s.value;
      if (CROSSING.has(cls)) pairEntry(t, s).usd += s.value;
      continue;
    }
    if (s.name !== BYTES || !s.labels.src_zone) continue;
    const dstZone = cls === INTERNET ? INTERNET : (s.labels.dst_zone ?? '?');
    add(t.zones, `${s.labels.src_zone}\t${dstZone}`, s.value);
    if (CROSSING.has(cls)) {
      t.crossingBytes += s.value;
      pairEntry(t, s).bytes += s.value;
    }
  }
  return t;
}

function pairEntry(t: TrafficTotals, s: Sample): { bytes: number; usd: number } {
  const key = `${workloadOf(s.labels, 'src')}\t${workloadOf(s.labels, 'dst')}`;
  let e = t.pairs.get(key);
  if (!e) t.pairs.set(key, (e = { bytes: 0, usd: 0 }));
  return e;
}

/** Per-second rates between two scrapes (totals that went down, a restart, count from zero). */
export function ratesBetween(prev: TrafficTotals | undefined, cur: TrafficTotals): TrafficTotals {
  const seconds = prev ? Math.max((cur.at - prev.at) / 1000, 0.001) : 1;
  const diff = (now: number, before = 0) => (now >= before ? now - before : now) / seconds;
  if (!prev) return { ...cur, zones: new Map(), pairs: new Map(), crossingBytes: 0, usd: 0 };
  const pairs = new Map<string, { bytes: number; usd: number }>();
  for (const [k, v] of cur.pairs) {
    const p = prev.pairs.get(k);
    pairs.set(k, { bytes: diff(v.bytes, p?.bytes), usd: diff(v.usd, p?.usd) });
  }
  return {
    at: cur.at,
    zones: new Map([...cur.zones].map(([k, v]) => [k, diff(v, prev.zones.get(k))])),
    pairs,
    crossingBytes: diff(cur.crossingBytes, prev.crossingBytes),
    usd: diff(cur.usd, prev.usd),
  };
}

export function formatBytes(n: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let i = 0;
  while (n >= 1000 && i < units.length - 1) (n /= 1000), i++;
  return `${n >= 100 || i === 0 ? n.toFixed(0) : n.toFixed(1)} ${units[i]}`;
}

export function formatUsd(n: number): string {
  return n >= 100 ? `$${Math.round(n).toLocaleString('en-US')}` : `$${n.toFixed(2)}`;
}

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

/** The `n` workload pairs with the most crossing bytes in `t` (a rate or a total). */
export function topPairs(t: TrafficTotals, n: number): Array<{ src: string; dst: string; bytes: number; usd: number }> {
  return [...t.pairs]
    .map(([k, v]) => {
      const [src, dst] = k.split('\t') as [string, string];
      return { src, dst, ...v };
    })
    .filter((p) => p.bytes > 0)
    .sort((a, b) => b.bytes - a.bytes)
    .slice(0, n);
}

/** USD per second -> projected USD per month. */
export const monthly = (usdPerSecond: number) => usdPerSecond * HOURS_PER_MONTH * 3600;

export interface ViewContext {
  provider: string;
  zones: readonly string[];
  elapsedS: number;
  durationS: number;
  metricsUrl: string;
  jobRuns: number;
}

export function renderLive(rates: TrafficTotals, ctx: ViewContext): string {
  const out = [
    `zonetap demo · ${ctx.zones.length} zones · prices: ${ctx.provider} · ${Math.round(ctx.elapsedS)}s of ${ctx.durationS}s · CronJob runs: ${ctx.jobRuns} · ${ctx.metricsUrl}`,
    '',
    'Zone-to-zone traffic (bytes/s)',
    renderMatrix(rates, ctx.zones),
    '',
    'Top workloads by cross-zone bytes/s',
  ];
  const top = topPairs(rates, 5);
  if (top.length === 0) out.push('  (waiting for the first flows)');
  top.forEach((p, i) =>
    out.push(`  ${i + 1}. ${`${p.src} -> ${p.dst}`.padEnd(52)} ${`${formatBytes(p.bytes)}/s`.padStart(11)}  ${formatUsd(monthly(p.usd)).padStart(9)}/month`),
  );
  out.push('', `Projected monthly cost of this traffic (cross-zone, cross-region, internet): ${formatUsd(monthly(rates.usd))}/month at ${ctx.provider} prices`);
  return out.join('\n');
}

/** The PromQL the summary prints (the integration test runs them on a real Prometheus). */
export const SUMMARY_QUERIES = {
  topWorkloads:
    'topk(5, sum by (k8s_src_namespace, k8s_src_owner_name, k8s_dst_namespace, k8s_dst_owner_name) (rate(zonetap_network_flow_bytes_total{zonetap_traffic_class="cross_zone"}[5m])))',
  zoneMatrix: 'sum by (src_zone, dst_zone) (rate(zonetap_network_flow_bytes_total[5m]))',
  monthlyCost: `sort_desc(sum by (k8s_src_namespace, k8s_src_owner_name) (rate(zonetap_network_flow_cost_usd_total[1h])) * ${HOURS_PER_MONTH} * 3600)`,
} as const;

export interface SummaryContext {
  provider: string;
  zones: readonly string[];
  seconds: number;
  metricsUrl: string;
  flowLog: string;
}

/** The closing summary: totals of the whole run, the culprits, and where to look further. */
export function renderSummary(totals: TrafficTotals, ctx: SummaryContext): string {
  const out = [`Summary of ${Math.round(ctx.seconds)}s`, '', 'Zone-to-zone bytes', renderMatrix(totals, ctx.zones, ''), ''];
  const top = topPairs(totals, 3);
  if (top.length === 0 || totals.crossingBytes === 0) {
    out.push('No cross-zone traffic was counted: look at the agents\' and the gateway\'s logs.');
    return out.join('\n');
  }
  const perSecond = (usd: number) => usd / Math.max(ctx.seconds, 1);
  out.push(`Culprits (share of ${formatBytes(totals.crossingBytes)} crossing zones, projected monthly cost at ${ctx.provider} prices):`);
  top.forEach((p, i) => {
    const share = Math.round((100 * p.bytes) / totals.crossingBytes);
    out.push(`  ${i + 1}. ${p.src} -> ${p.dst}: ${share}%, ${formatBytes(p.bytes)}, ${formatUsd(monthly(perSecond(p.usd)))}/month`);
  });
  out.push(
    '',
    `All of it: ${formatUsd(monthly(perSecond(totals.usd)))}/month projected.`,
    '',
    'Look further (Prometheus scraping zonetap):',
    `  top workloads:  ${SUMMARY_QUERIES.topWorkloads}`,
    `  zone matrix:    ${SUMMARY_QUERIES.zoneMatrix}`,
    `  monthly cost:   ${SUMMARY_QUERIES.monthlyCost}`,
    `  exposition:     ${ctx.metricsUrl} (served while zonetap runs; the demo has stopped it)`,
    `  flow log:       ${ctx.flowLog}`,
  );
  return out.join('\n');
}
