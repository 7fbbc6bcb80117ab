/**
 * Measured traffic read from a Prometheus that scrapes zonetap: two PromQL
 * queries over the flow metrics (bytes and cost, per workload pair, zones,
 * class and Service), joined by label set. The queries are the README's
 * ("Advice"), so a user can run them by hand and see the same evidence.
 */
import { observedFromLabels, selector, type ObservedTraffic, type TrafficLabels } from './traffic.ts';

/** What the rules need of a series; pods and ports are dropped, so the answer stays small. */
export const ADVICE_BY_LABELS = [
  'k8s_src_namespace', 'k8s_src_owner_name', 'k8s_src_owner_type', 'src_zone', 'src_region',
  'k8s_dst_namespace', 'k8s_dst_owner_name', 'k8s_dst_owner_type', 'dst_zone', 'dst_region',
  'k8s_dst_service_name', 'k8s_dst_service_topology_aware', 'zonetap_traffic_class',
] as const;

/** The PromQL of bytes/s and USD/s per label set over `window` (a Prometheus duration like 1h). */
export function adviceQueries(window: string): { bytes: string; cost: string } {
  const by = ADVICE_BY_LABELS.join(', ');
  return {
    bytes: `sum by (${by}) (rate(zonetap_network_flow_bytes_total[${window}]))`,
    cost: `sum by (${by}) (rate(zonetap_network_flow_cost_usd_total[${window}]))`,
  };
}

interface VectorSample {
  metric: Record<string, string>;
  value: [number, string];
}

/** One instant query; throws with what Prometheus said when it does not answer a vector. */
async function instantVector(baseUrl: string, query: string, signal?: AbortSignal): Promise<VectorSample[]> {
  const url = new URL('api/v1/query', baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`);
  url.searchParams.set('query', query);
  let response: Response;
  try {
    response = await fetch(url, { signal });
  } catch (err) {
    throw new Error(`cannot reach Prometheus at ${baseUrl}: ${(err as Error).cause instanceof Error ? ((err as Error).cause as Error).message : (err as Error).message}`);
  }
  const text = await response.text();
  let body: { status?: string; error?: string; data?: { resultType?: string; result?: VectorSample[] } };
  try {
    body = JSON.parse(text);
  } catch {
    throw new Error(`${url.origin}${url.pathname} answered HTTP ${response.status} with no Prometheus API response: ${text.slice(0, 200)}`);
  }
  if (body.status !== 'success') throw new Error(`Prometheus refused the query (HTTP ${response.status}): ${body.error ?? text.slice(0, 200)}`);
  if (body.data?.resultType !== 'vector') throw new Error(`Prometheus answered a ${body.data?.resultType}, expected a vector`);
  return body.data.result ?? [];
}

/** The traffic measured over `window` by the Prometheus at `baseUrl` (e.g. http://prometheus:9090). */
export async function observedFromPrometheus(baseUrl: string, window: string, signal?: AbortSignal): Promise<ObservedTraffic[]> {
  const queries = adviceQueries(window);
  const [bytes, cost] = await Promise.all([instantVector(baseUrl, queries.bytes, signal), instantVector(baseUrl, queries.cost, signal)]);
  const usd = new Map<string, number>();
  for (const s of cost) usd.set(selector(s.metric), Number(s.value[1]));
  return bytes
    .map((s) => {
      const key = selector(s.metric);
      return observedFromLabels(s.metric, Number(s.value[1]), usd.get(key) ?? 0, `zonetap_network_flow_bytes_total${key}`);
    })
    .filter((t) => Number.isFinite(t.bytesPerSecond) && t.bytesPerSecond > 0);
}

/** Series held by an exporter: cumulative totals since `startTime` (exporters/series). */
export interface CumulativeSeries {
  readonly attributes: Readonly<Record<string, string | number | boolean>>;
  readonly bytes: number;
  readonly costUsd: number | undefined;
  readonly startTime: number;
}

/** Traffic of an exporter's own series at `now`: each series' totals over its lifetime. */
export function observedFromSeries(series: Iterable<CumulativeSeries>, now: number): ObservedTraffic[] {
  const out: ObservedTraffic[] = [];
  for (const s of series) {
    const labels: Record<string, string> = {};
    for (const [k, v] of Object.entries(s.attributes)) labels[k] = String(v);
    const seconds = Math.max((now - s.startTime) / 1000, 1);
    out.push(observedFromLabels(labels as TrafficLabels, s.bytes / seconds, (s.costUsd ?? 0) / seconds, `zonetap_network_flow_bytes_total${selector(labels)}`));
  }
  return out;
}
