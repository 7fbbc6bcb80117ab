/**
 * The demo's terminal view, computed from the gateway's Prometheus exposition:
 * the live view of exporters/console (zone-to-zone matrix, top workload pairs
 * by cross-zone bytes/s, projected monthly cost) under the demo's own header,
 * and the closing summary.
 */
import type { AdviceReport } from '../advice/index.ts';
import { formatBytes, formatUsd, monthly, MONTHLY_PROMQL_FACTOR } from '../advice/index.ts';
import { INTERNET, addTraffic, emptyTotals, renderMatrix, renderTrafficView, topPairs } from '../exporters/console/index.ts';
import type { TrafficTotals } from '../exporters/console/index.ts';
export type { TrafficTotals };
import type { Sample } from './exposition.ts';

const BYTES = 'zonetap_network_flow_bytes_total';
const COST = 'zonetap_network_flow_cost_usd_total';

const workloadOf = (labels: Record<string, string>, side: 'src' | 'dst'): string => {
  const name = labels[`k8s_${side}_owner_name`] ?? labels[`k8s_${side}_name`];
  if (name) return `${labels[`k8s_${side}_namespace`] ?? ''}/${name}`;
  if (labels.zonetap_traffic_class === INTERNET && side === 'dst') return INTERNET;
  return labels[`${side}_address`] ?? '?';
};

/** Cumulative totals at one scrape of the gateway's exposition. */
export function totalsOf(samples: readonly Sample[], at = Date.now()): TrafficTotals {
  const t = emptyTotals(at);
  for (const s of samples) {
    if (s.name !== BYTES && s.name !== COST) continue;
    addTraffic(t, {
      srcZone: s.labels.src_zone,
      dstZone: s.labels.dst_zone,
      trafficClass: s.labels.zonetap_traffic_class,
      src: workloadOf(s.labels, 'src'),
      dst: workloadOf(s.labels, 'dst'),
      bytes: s.name === BYTES ? s.value : 0,
      usd: s.name === COST ? s.value : 0,
    });
  }
  return t;
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

export interface ViewContext {
  provider: string;
  zones: readonly string[];
  elapsedS: number;
  durationS: number;
  metricsUrl: string;
  jobRuns: number;
}

export function renderLive(rates: TrafficTotals, ctx: ViewContext): string {
  const header = `zonetap demo · ${ctx.zones.length} zones · prices: ${ctx.provider} · ${Math.round(ctx.elapsedS)}s of ${ctx.durationS}s · CronJob runs: ${ctx.jobRuns} · ${ctx.metricsUrl}`;
  return `${header}\n\n${renderTrafficView(rates, { zones: ctx.zones, top: 5, provider: ctx.provider })}`;
}

/** The PromQL the summary prints (the integration test runs them on a real Prometheus). */
export const SUMMARY_QUERIES = {
  topWorkloads:
    'topk(5, sum by (k8s_src_namespace, k8s_src_owner_name, k8s_dst_namespace, k8s_dst_owner_name) (rate(zonetap_network_flow_bytes_total{zonetap_traffic_class="cross_zone"}[5m])))',
  zoneMatrix: 'sum by (src_zone, dst_zone) (rate(zonetap_network_flow_bytes_total[5m]))',
  monthlyCost: `sort_desc(sum by (k8s_src_namespace, k8s_src_owner_name) (rate(zonetap_network_flow_cost_usd_total[1h])) * ${MONTHLY_PROMQL_FACTOR})`,
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

/**
 * What to change, from the advice (advice/) over the demo's flow log: the
 * items' dollars, what was found, the remedy, and where to see all of it.
 */
export function renderAdvice(report: AdviceReport, ctx: { flowLog: string; adviceUrl: string }): string {
  const out = ['What to change (zonetap advise, from the flows measured):'];
  if (report.items.length === 0) out.push('  nothing: no cross-zone traffic between workloads was measured.');
  report.items.forEach((item, i) => {
    out.push(`  ${i + 1}. ${item.server} [${item.rule}], ${formatUsd(item.monthlyUsd)}/month at stake: ${item.finding}`, `     Do: ${item.remedy}`);
  });
  out.push(`  all of it with its evidence: zonetap advise --flow-log ${ctx.flowLog}; ${ctx.adviceUrl} (served while zonetap runs)`);
  return out.join('\n');
}
