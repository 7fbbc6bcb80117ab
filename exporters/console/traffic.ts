/**
 * What the live view shows, whatever it is computed from: bytes between zones,
 * bytes and dollars between workload pairs that cross zones, and the cost of
 * everything priced. The console exporter fills it from the flow records it is
 * given; the demo (sim/live-view.ts) from the gateway's Prometheus exposition.
 */
import type { FlowEndpoint, FlowRecord } from '../../pipeline/flow.ts';

export const INTERNET = 'internet';
/** Classes billed as "crossing zones": the culprits' classes. */
const CROSSING: ReadonlySet<string> = new Set(['cross_zone', 'cross_region']);

/** Totals (or rates) of traffic, at one moment. */
export interface TrafficTotals {
  /** ms since the epoch. */
  at: number;
  /** `srcZone\tdstZone` (dstZone `internet` for the internet, `?` when unknown) -> bytes. */
  zones: Map<string, number>;
  /** `src workload\tdst workload` (`namespace/name`) -> bytes and USD, crossing classes only. */
  pairs: Map<string, { bytes: number; usd: number }>;
  crossingBytes: number;
  /** Every priced class (cross-zone, cross-region, internet). */
  usd: number;
}

/** One piece of traffic: a flow record, or one Prometheus sample of bytes or of cost. */
export interface TrafficSample {
  srcZone?: string;
  dstZone?: string;
  trafficClass?: string;
  /** The ends as the view names them: `namespace/workload`, `internet`, or an address. */
  src: string;
  dst: string;
  bytes: number;
  usd: number;
}

export function emptyTotals(at = Date.now()): TrafficTotals {
  return { at, zones: new Map(), pairs: new Map(), crossingBytes: 0, usd: 0 };
}

export function addTraffic(t: TrafficTotals, s: TrafficSample): void {
  const cls = s.trafficClass ?? 'unknown';
  t.usd += s.usd;
  if (s.srcZone && s.bytes > 0) {
    const key = `${s.srcZone}\t${cls === INTERNET ? INTERNET : (s.dstZone ?? '?')}`;
    t.zones.set(key, (t.zones.get(key) ?? 0) + s.bytes);
  }
  if (!CROSSING.has(cls)) return;
  t.crossingBytes += s.bytes;
  const key = `${s.src}\t${s.dst}`;
  let pair = t.pairs.get(key);
  if (!pair) t.pairs.set(key, (pair = { bytes: 0, usd: 0 }));
  pair.bytes += s.bytes;
  pair.usd += s.usd;
}

/** Adds every value of `from` to `into`. */
export function addTotals(into: TrafficTotals, from: TrafficTotals): void {
  for (const [k, v] of from.zones) into.zones.set(k, (into.zones.get(k) ?? 0) + v);
  for (const [k, v] of from.pairs) {
    const pair = into.pairs.get(k);
    if (pair) (pair.bytes += v.bytes), (pair.usd += v.usd);
    else into.pairs.set(k, { ...v });
  }
  into.crossingBytes += from.crossingBytes;
  into.usd += from.usd;
}

/** `namespace/workload` (the pod when no workload is known), `internet`, or the address. */
function endpointName(ep: FlowEndpoint, internet: boolean): string {
  const name = ep.workloadName ?? ep.pod;
  if (name) return `${ep.namespace ?? ''}/${name}`;
  return internet ? INTERNET : ep.address;
}

export function sampleOf(record: FlowRecord): TrafficSample {
  return {
    srcZone: record.src.zone,
    dstZone: record.dst.zone,
    trafficClass: record.trafficClass,
    src: endpointName(record.src, false),
    dst: endpointName(record.dst, record.trafficClass === INTERNET),
    bytes: record.bytes,
    usd: record.costUsd ?? 0,
  };
}

/** Every value of `t` divided by `seconds`: totals over a span -> rates per second. */
export function perSecond(t: TrafficTotals, seconds: number): TrafficTotals {
  const d = (v: number) => v / seconds;
  return {
    at: t.at,
    zones: new Map([...t.zones].map(([k, v]) => [k, d(v)])),
    pairs: new Map([...t.pairs].map(([k, v]) => [k, { bytes: d(v.bytes), usd: d(v.usd) }])),
    crossingBytes: d(t.crossingBytes),
    usd: d(t.usd),
  };
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
