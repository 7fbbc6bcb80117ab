/**
 * The advice rules: from measured traffic, the few changes that would cut
 * the most cost, each with the monthly dollars at stake and the traffic it
 * is computed from. Traffic is taken per conversation (two workloads, both
 * directions); its server is the end that listens (the Service's backend,
 * the lower port, a StatefulSet or managed service, else the end that sends
 * more: answers outweigh questions). Rules, first match wins (README):
 *
 * - cross-region traffic: keep the reader in the server's region;
 * - server a StatefulSet or an external service, most of the conversation on
 *   one zone of it, clients in several zones: read replicas per zone / route
 *   reads to the local zone;
 * - server behind a Service (k8s_dst_service_name), or a Deployment, with
 *   endpoints in several zones: trafficDistribution: PreferClose, unless the
 *   Service already routes by zone (k8s_dst_service_topology_aware);
 * - server a StatefulSet spread over zones, read by clients in fewer zones:
 *   one reader per zone that reads its own zone's replica;
 * - server replicas all in one zone, clients in several, or a Service that
 *   routes by zone with clients in zones where it has no endpoint: topology
 *   spread constraints (replicas where the clients are);
 * - server and clients each in one zone, different ones: schedule them
 *   together (pod affinity).
 */
import { monthly } from './units.ts';
import type { ObservedTraffic, TrafficEnd } from './traffic.ts';

export type AdviceRule = 'keep-in-region' | 'zone-local-reads' | 'prefer-close' | 'reader-per-zone' | 'spread-replicas' | 'co-locate';

/** One piece of traffic an item is computed from. */
export interface Evidence {
  /** A series selector or the flows' pods, ports and zones. */
  source: string;
  bytesPerSecond: number;
  monthlyUsd: number;
}

/** One change, what it saves and why. */
export interface AdviceItem {
  rule: AdviceRule;
  /** The server workload, `namespace/name` (or the external block's name). */
  server: string;
  serverKind: string;
  /** The Service in front of it, when the flows name one. */
  service: string | undefined;
  /** The client workloads, `namespace/name`. */
  clients: string[];
  /** What to do, in one sentence. */
  remedy: string;
  /** What was measured that calls for it. */
  finding: string;
  /** Monthly cost of the traffic the change removes, at the measured rate. */
  monthlyUsd: number;
  bytesPerSecond: number;
  /** The traffic it is computed from, costliest first (at most MAX_EVIDENCE; evidenceCount says how many in all). */
  evidence: Evidence[];
  evidenceCount: number;
}

export interface AdviceReport {
  items: AdviceItem[];
  /** Monthly cost of all cross-zone and cross-region traffic measured, advised or not. */
  monthlyUsdCrossing: number;
}

export const MAX_EVIDENCE = 5;
/** Share of a conversation's bytes on one zone of the server above which that zone is "the primary's". */
const CONCENTRATED = 0.7;

const workloadOf = (e: TrafficEnd) => (e.namespace ? `${e.namespace}/${e.workload}` : (e.workload ?? '?'));
const CROSSING = new Set(['cross_zone', 'cross_region']);

/** How likely an end of this kind is the one that listens. */
function serverRank(kind: string | undefined): number {
  if (kind === 'External') return 4;
  if (kind === 'StatefulSet') return 3;
  if (kind === 'Deployment' || kind === 'ReplicaSet' || kind === 'DaemonSet') return 2;
  if (kind === 'Node' || kind === undefined) return 0;
  return 1;
}

interface Conversation {
  a: string;
  b: string;
  traffic: ObservedTraffic[];
}

/** Traffic per pair of workloads (either direction), a workload with itself left out. */
function conversations(observed: readonly ObservedTraffic[]): Conversation[] {
  const byPair = new Map<string, Conversation>();
  for (const t of observed) {
    if (t.src.workload === undefined || t.dst.workload === undefined) continue;
    const [a, b] = [workloadOf(t.src), workloadOf(t.dst)].sort() as [string, string];
    if (a === b) continue;
    const key = `${a}\u0000${b}`;
    let c = byPair.get(key);
    if (c === undefined) byPair.set(key, (c = { a, b, traffic: [] }));
    c.traffic.push(t);
  }
  return [...byPair.values()];
}

/** The workload of `c` that listens; see the file comment for the order of the signs. */
function serverOf(c: Conversation): string {
  const votes = new Map<string, number>([[c.a, 0], [c.b, 0]]);
  const vote = (w: string, weight: number) => votes.set(w, votes.get(w)! + weight);
  for (const t of c.traffic) if (t.dstService !== undefined) return workloadOf(t.dst);
  for (const t of c.traffic) {
    if (t.src.port > 0 && (t.dst.port === 0 || t.src.port < t.dst.port)) vote(workloadOf(t.src), t.bytesPerSecond);
    else if (t.dst.port > 0 && (t.src.port === 0 || t.dst.port < t.src.port)) vote(workloadOf(t.dst), t.bytesPerSecond);
  }
  if (votes.get(c.a) !== votes.get(c.b)) return votes.get(c.a)! > votes.get(c.b)! ? c.a : c.b;
  const kindOf = (w: string) => {
    const t = c.traffic.find((x) => workloadOf(x.src) === w);
    return (t?.src ?? c.traffic.find((x) => workloadOf(x.dst) === w)!.dst).kind;
  };
  const [ra, rb] = [serverRank(kindOf(c.a)), serverRank(kindOf(c.b))];
  if (ra !== rb) return ra > rb ? c.a : c.b;
  let sent = 0;
  for (const t of c.traffic) sent += workloadOf(t.src) === c.a ? t.bytesPerSecond : -t.bytesPerSecond;
  return sent >= 0 ? c.a : c.b;
}

/** Evidence of `traffic`, costliest first. */
function evidenceOf(traffic: readonly ObservedTraffic[]): Pick<AdviceItem, 'evidence' | 'evidenceCount' | 'monthlyUsd' | 'bytesPerSecond'> {
  const sorted = [...traffic].sort((x, y) => y.usdPerSecond - x.usdPerSecond || y.bytesPerSecond - x.bytesPerSecond);
  let usd = 0;
  let bytes = 0;
  for (const t of traffic) (usd += t.usdPerSecond), (bytes += t.bytesPerSecond);
  return {
    evidence: sorted.slice(0, MAX_EVIDENCE).map((t) => ({ source: t.evidence, bytesPerSecond: t.bytesPerSecond, monthlyUsd: monthly(t.usdPerSecond) })),
    evidenceCount: traffic.length,
    monthlyUsd: monthly(usd),
    bytesPerSecond: bytes,
  };
}

/** The advice for one conversation: at most one cross-region and one cross-zone item. */
function adviseConversation(c: Conversation): AdviceItem[] {
  const server = serverOf(c);
  const serverEnd = (t: ObservedTraffic) => (workloadOf(t.src) === server ? t.src : t.dst);
  const clientEnd = (t: ObservedTraffic) => (workloadOf(t.src) === server ? t.dst : t.src);
  const first = serverEnd(c.traffic[0]!);
  const serverKind = first.kind ?? 'unknown';
  const service = c.traffic.find((t) => t.dstService !== undefined)?.dstService;
  // Routing by zone already on: PreferClose is not the remedy, so the item must not say to set it.
  const routesByZone = c.traffic.some((t) => t.dstService === service && t.dstServiceTopologyAware);
  const clients = [...new Set(c.traffic.map((t) => workloadOf(clientEnd(t))))];
  const base = { server, serverKind, service, clients };
  const items: AdviceItem[] = [];

  const crossRegion = c.traffic.filter((t) => t.trafficClass === 'cross_region');
  if (crossRegion.length > 0) {
    const regions = [...new Set(crossRegion.map((t) => serverEnd(t).region))].join(', ');
    items.push({
      ...base,
      rule: 'keep-in-region',
      remedy: `Keep the reader in the data's region: run ${clients.join(', ')} (or a replica of ${server}) in ${regions}, as Polar Signals did with a Thanos stack per region for rule evaluation.`,
      finding: `${clients.join(', ')} and ${server} (${regions}) talk across regions.`,
      ...evidenceOf(crossRegion),
    });
  }

  const crossZone = c.traffic.filter((t) => t.trafficClass === 'cross_zone');
  if (crossZone.length === 0) return items;
  // Where the server's and the clients' pods are, by the bytes each zone carries (every class).
  const serverZones = new Map<string, number>();
  const clientZones = new Set<string>();
  let total = 0;
  for (const t of c.traffic) {
    const s = serverEnd(t);
    const cl = clientEnd(t);
    if (s.zone !== undefined) serverZones.set(s.zone, (serverZones.get(s.zone) ?? 0) + t.bytesPerSecond);
    if (cl.zone !== undefined) clientZones.add(cl.zone);
    total += t.bytesPerSecond;
  }
  const [topZone, topBytes] = [...serverZones].sort((x, y) => y[1] - x[1])[0] ?? ['?', 0];
  const concentrated = total > 0 && topBytes / total >= CONCENTRATED;
  const zonesText = (zones: Iterable<string>) => [...zones].sort().join(', ');
  const who = service !== undefined ? `Service ${service} (${server})` : server;
  const evidence = evidenceOf(crossZone);
  const item = (rule: AdviceRule, remedy: string, finding: string): AdviceItem => ({ ...base, rule, remedy, finding, ...evidence });

  if ((serverKind === 'StatefulSet' || serverKind === 'External') && concentrated && clientZones.size >= 2) {
    items.push(item('zone-local-reads', `Add a read replica of ${server} in each zone (${zonesText(clientZones)}) and route reads to the replica in the client's zone; only writes go to the primary in ${topZone}.`, `${Math.round((100 * topBytes) / total)}% of the traffic between ${server} and ${clients.join(', ')} is with its pods in ${topZone} (the primary), read from clients in ${zonesText(clientZones)}.`));
  } else if (serverZones.size >= 2 && routesByZone) {
    // Kubernetes keeps traffic in the zone where the Service has an endpoint; clients elsewhere cross.
    const uncovered = [...clientZones].filter((z) => !serverZones.has(z));
    // What is at stake is the traffic of those clients only: routing by zone already applies to the others.
    const fromUncovered = crossZone.filter((t) => uncovered.includes(clientEnd(t).zone ?? ''));
    if (fromUncovered.length > 0) {
      items.push({
        ...base,
        rule: 'spread-replicas',
        remedy: `Run replicas of ${server} in ${zonesText(uncovered)} too (topologySpreadConstraints with topologyKey: topology.kubernetes.io/zone): Service ${service} already routes by zone, but has no endpoint in the zone of clients there.`,
        finding: `${who} routes by zone and has endpoints in ${zonesText(serverZones.keys())}; its clients in ${zonesText(uncovered)} have none in their zone and cross to reach it.`,
        ...evidenceOf(fromUncovered),
      });
    }
  } else if (serverZones.size >= 2 && (service !== undefined || serverKind !== 'StatefulSet')) {
    items.push(item('prefer-close', `Set trafficDistribution: PreferClose on ${service !== undefined ? `Service ${service}` : `the Service in front of ${server}`} (or the topology-mode: Auto annotation before Kubernetes 1.31): its endpoints are in ${zonesText(serverZones.keys())}, so clients there can be served in their own zone.`, `${who} has endpoints in ${zonesText(serverZones.keys())}, and its clients ${clients.join(', ')} cross zones to reach them.`));
  } else if (serverZones.size >= 2) {
    items.push(item('reader-per-zone', `Keep each reader with its data: run ${clients.join(', ')} in every zone of ${server} (${zonesText(serverZones.keys())}), each reading the replica in its own zone, as Polar Signals did per region with a Thanos stack each.`, `${clients.join(', ')} (in ${zonesText(clientZones)}) reads from every replica of ${server} across ${zonesText(serverZones.keys())}.`));
  } else if (clientZones.size >= 2) {
    items.push(item('spread-replicas', `Spread ${server}'s replicas over the zones with topologySpreadConstraints (topologyKey: topology.kubernetes.io/zone)${service !== undefined && !routesByZone ? ` and set trafficDistribution: PreferClose on Service ${service}` : ''}: every replica is in ${topZone} while its clients are in ${zonesText(clientZones)}.`, `Every pod of ${server} is in ${topZone}; its clients ${clients.join(', ')} are in ${zonesText(clientZones)}.`));
  } else {
    items.push(item('co-locate', `Schedule ${clients.join(', ')} in ${server}'s zone (${topZone}) with pod affinity (topologyKey: topology.kubernetes.io/zone), or move ${server} to theirs (${zonesText(clientZones)}).`, `${server} is in ${topZone} and all of its clients ${clients.join(', ')} in ${zonesText(clientZones)}.`));
  }
  return items;
}

/** The `top` items that save the most, and the monthly cost of all crossing traffic. */
export function advise(observed: readonly ObservedTraffic[], top = 5): AdviceReport {
  let crossingUsd = 0;
  for (const t of observed) if (t.trafficClass !== undefined && CROSSING.has(t.trafficClass)) crossingUsd += t.usdPerSecond;
  const items = conversations(observed)
    .flatMap(adviseConversation)
    .filter((i) => i.monthlyUsd > 0 || i.bytesPerSecond > 0)
    .sort((x, y) => y.monthlyUsd - x.monthlyUsd || y.bytesPerSecond - x.bytesPerSecond);
  return { items: items.slice(0, top), monthlyUsdCrossing: monthly(crossingUsd) };
}
