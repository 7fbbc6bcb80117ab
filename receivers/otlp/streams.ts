/**
 * Points -> deltas applied once per stream, the heart of the gateway. A
 * stream is one agent (resource: service.instance.id, else all resource
 * attributes), one metric and one attribute set; the bytes, packets and cost
 * streams of one attribute set share an entry, so their deltas become one
 * FlowRecord. Per stream the last accepted point (start time, time, value)
 * is kept, and each point is applied by the rules of its temporality:
 * cumulativeStep() (an agent's totals since its start) and deltaStep() (what
 * an agent counted since its last acknowledged export, re-sent in an open
 * window until acknowledged). Times are compared as float nanoseconds (exact
 * to ~256 ns, far below the millisecond apart two exports are).
 *
 * Expiry: an attribute set is forgotten when its agent's requests have not
 * carried it for the stream TTL (idle relative to the agent's last request, not
 * to the wall clock: a partitioned agent keeps its state); a whole agent is
 * forgotten after the separate, much longer agent TTL. A gateway that lost its
 * state (restart) or forgot an agent counts the agent's first points in full.
 *
 * ingest() validates and plans the whole request before changing anything, so
 * a request that fails to decode leaves every stream as it was.
 */
import { attributesToRecord } from '../../pipeline/attributes.ts';
import type { FlowBatch, FlowRecord } from '../../pipeline/flow.ts';
import {
  AGGREGATION_TEMPORALITY_CUMULATIVE,
  AGGREGATION_TEMPORALITY_DELTA,
  anyValueToJs,
  decodePointAttributes,
  type ExportMetricsServiceRequest,
  type KeyValue,
  type Metric,
} from './proto.ts';
import { countSumPoints, SumReader } from './points.ts';

export const FLOW_METRICS = ['zonetap.network.flow.bytes', 'zonetap.network.flow.packets', 'zonetap.network.flow.cost_usd'] as const;
const BYTES = 0;
const PACKETS = 1;
const COST = 2;

interface PointState {
  startNs: number;
  timeNs: number;
  value: number;
}

/** One attribute set of one agent: its decoded attributes and the state of its three metric streams. */
interface FlowEntry {
  /** The attribute list as encoded (a private copy), compared on hash hits. */
  readonly key: Buffer;
  /** The record the attributes map to (bytes and packets 0), copied for every delta. */
  readonly template: FlowRecord;
  readonly points: [PointState | undefined, PointState | undefined, PointState | undefined];
  seenMs: number;
  /** Next entry whose key has the same hash (rare). */
  collision: FlowEntry | undefined;
  /** For entries first seen in the request being ingested: inserted, or refused (max_streams). */
  state: 'pending' | 'tracked' | 'refused';
}

/** Entries by attribute hash, verified by bytes. */
class EntryIndex {
  readonly #byHash = new Map<number, FlowEntry>();
  size = 0;

  find(hash: number, sum: SumReader): FlowEntry | undefined {
    for (let e = this.#byHash.get(hash); e; e = e.collision) if (sum.attributesEqual(e.key)) return e;
    return undefined;
  }

  add(hash: number, entry: FlowEntry): void {
    entry.collision = this.#byHash.get(hash);
    this.#byHash.set(hash, entry);
    this.size++;
  }

  /** Removes entries not seen since `cutoff`; returns how many. */
  expire(cutoff: number): number {
    let dropped = 0;
    for (const [hash, head] of this.#byHash) {
      let kept: FlowEntry | undefined;
      for (let e: FlowEntry | undefined = head; e; ) {
        const next: FlowEntry | undefined = e.collision;
        if (e.seenMs < cutoff) dropped++;
        else {
          e.collision = kept;
          kept = e;
        }
        e = next;
      }
      if (kept) this.#byHash.set(hash, kept);
      else this.#byHash.delete(hash);
    }
    this.size -= dropped;
    return dropped;
  }
}

interface AgentStreams {
  entries: EntryIndex;
  seenMs: number;
  /** Set once the agent was seen sending cumulative points (reported once: ingest()'s `cumulativeAgents`). */
  sentCumulative: boolean;
}

/** What one request did, for self-telemetry and tests. */
export interface IngestStats {
  /** Flow data points read (zonetap's metrics). */
  points: number;
  /** Data points of other metrics, or of zonetap's metrics in a shape zonetap does not send (gauge, non-monotonic). */
  ignoredOther: number;
  /** Duplicate or out-of-order points (time not after the stream's last point), or stale start times. */
  ignoredStale: number;
  /** Points without a time, with a negative value, or without temporality. */
  invalid: number;
  /** Points refused because max_streams was reached. */
  refused: number;
  /** Streams of agents seen for the first time or after a reset. */
  resets: number;
}

/** Planned change for one point, applied only after the whole request decoded. */
interface PlannedPoint {
  agentKey: string;
  hash: number;
  /** An entry already tracked, or one first seen in this request (state 'pending'). */
  entry: FlowEntry;
  metric: 0 | 1 | 2;
  startNs: number;
  timeNs: number;
  value: number;
  delta: boolean;
}

export interface FlowStreamsOptions {
  /** An attribute set its agent has not sent for this long (measured from the agent's last request) is forgotten. */
  ttlMs: number;
  /** An agent (resource identity) not heard from for this long is forgotten with all its streams (at least ttlMs). */
  agentTtlMs?: number;
  maxStreams: number;
  now?: () => number;
}

const NS_PER_MS = 1e6;
const DEFAULT_AGENT_TTL_MS = 24 * 3600_000;

function newStats(): IngestStats {
  return { points: 0, ignoredOther: 0, ignoredStale: 0, invalid: 0, refused: 0, resets: 0 };
}

/** Identity of the agent that sent a ResourceMetrics. */
function agentKey(attributes: readonly KeyValue[] | undefined): string {
  if (!attributes || attributes.length === 0) return '';
  const pairs: [string, unknown][] = [];
  for (const kv of attributes) {
    if (kv.key === 'service.instance.id') return `id:${String(anyValueToJs(kv.value))}`;
    pairs.push([kv.key, anyValueToJs(kv.value)]);
  }
  pairs.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  return `attrs:${JSON.stringify(pairs)}`;
}

/** What one point adds to its stream, and from when; undefined when it adds nothing (stale). */
type Step = { delta: number; fromNs: number } | undefined;

/**
 * A cumulative point against the stream's last one: the increase since it,
 * the whole value for a new series (first point, later start time, or a
 * lower value: a reset).
 */
function cumulativeStep(last: PointState | undefined, p: PlannedPoint, stats: IngestStats): Step {
  if (!last) {
    stats.resets++;
    return { delta: p.value, fromNs: p.startNs || p.timeNs };
  }
  if (p.startNs === last.startNs) {
    if (p.timeNs <= last.timeNs) return stale(stats);
    if (p.value >= last.value) return { delta: p.value - last.value, fromNs: last.timeNs };
    stats.resets++;
    return { delta: p.value, fromNs: last.timeNs };
  }
  if (p.startNs > last.startNs) {
    stats.resets++;
    return { delta: p.value, fromNs: p.startNs };
  }
  return stale(stats);
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
function deltaStep(last: PointState | undefined, p: PlannedPoint, stats: IngestStats): Step {
  if (!last) return { delta: p.value, fromNs: p.startNs || p.timeNs };
  if (p.startNs === 0 || p.startNs > last.startNs) {
    if (p.startNs === 0 && p.timeNs <= last.timeNs) return stale(stats);
    return { delta: p.value, fromNs: p.startNs || last.timeNs };
  }
  if (p.startNs === last.startNs && p.timeNs > last.timeNs && p.value >= last.value) return { delta: p.value - last.value, fromNs: last.timeNs };
  return stale(stats);
}

function stale(stats: IngestStats): Step {
  stats.ignoredStale++;
  return undefined;
}

export class FlowStreams {
  readonly #agents = new Map<string, AgentStreams>();
  readonly #ttlMs: number;
  readonly #agentTtlMs: number;
  readonly #maxStreams: number;
  readonly #now: () => number;
  #entries = 0;

  constructor(options: FlowStreamsOptions) {
    this.#ttlMs = options.ttlMs;
    this.#agentTtlMs = Math.max(options.ttlMs, options.agentTtlMs ?? DEFAULT_AGENT_TTL_MS);
    this.#maxStreams = options.maxStreams;
    this.#now = options.now ?? Date.now;
  }

  /** Attribute sets currently tracked, over all agents. */
  get size(): number {
    return this.#entries;
  }

  get agents(): number {
    return this.#agents.size;
  }

  /**
   * Turns one decoded request into a batch of deltas. Throws (and changes
   * nothing) when a point or an attribute list cannot be decoded.
   */
  ingest(request: ExportMetricsServiceRequest): { batch: FlowBatch; stats: IngestStats; cumulativeAgents: string[] } {
    const stats = newStats();
    const plan = this.#plan(request, stats);
    const cumulativeAgents: string[] = [];
    const batch = this.#apply(plan, stats, cumulativeAgents);
    // A known agent is heard from even when its request carries no flow points.
    const now = this.#now();
    for (const rm of request.resourceMetrics) {
      const agent = this.#agents.get(agentKey(rm.resource?.attributes));
      if (agent) agent.seenMs = now;
    }
    return { batch, stats, cumulativeAgents };
  }

  #plan(request: ExportMetricsServiceRequest, stats: IngestStats): PlannedPoint[] {
    const plan: PlannedPoint[] = [];
    /** Entries first seen in this request, per agent, so bytes and packets of a new attribute set share one. */
    const firstSeen = new Map<string, EntryIndex>();
    for (const rm of request.resourceMetrics) {
      const agent = agentKey(rm.resource?.attributes);
      const known = this.#agents.get(agent)?.entries;
      for (const sm of rm.scopeMetrics) {
        for (const metric of sm.metrics) {
          const index = FLOW_METRICS.indexOf(metric.name as (typeof FLOW_METRICS)[number]) as -1 | 0 | 1 | 2;
          if (index === -1 || metric.data !== 'sum' || !metric.sum) {
            stats.ignoredOther += countPoints(metric);
            continue;
          }
          const sum = new SumReader(metric.sum);
          if (!sum.monotonic) {
            stats.ignoredOther += sum.count;
            continue;
          }
          const temporality = sum.temporality;
          if (temporality !== AGGREGATION_TEMPORALITY_CUMULATIVE && temporality !== AGGREGATION_TEMPORALITY_DELTA) {
            stats.invalid += sum.count;
            continue;
          }
          while (sum.next()) {
            stats.points++;
            const { timeNs, value } = sum;
            if (timeNs === 0 || !(value >= 0)) {
              stats.invalid++;
              continue;
            }
            const hash = sum.attributesHash();
            let entry = known?.find(hash, sum);
            if (!entry) {
              let fresh = firstSeen.get(agent);
              if (!fresh) firstSeen.set(agent, (fresh = new EntryIndex()));
              entry = fresh.find(hash, sum);
              if (!entry) {
                entry = { key: Buffer.from(sum.attributesBytes()), template: attributesToRecord(decodePointAttributes(sum.pointBytes()), 0, 0), points: [undefined, undefined, undefined], seenMs: 0, collision: undefined, state: 'pending' };
                fresh.add(hash, entry);
              }
            }
            plan.push({ agentKey: agent, hash, entry, metric: index, startNs: sum.startNs, timeNs, value, delta: temporality === AGGREGATION_TEMPORALITY_DELTA });
          }
        }
      }
    }
    return plan;
  }

  /** Applies the plan; agents seen sending cumulative points for the first time are added to `cumulativeAgents`. */
  #apply(plan: readonly PlannedPoint[], stats: IngestStats, cumulativeAgents: string[]): FlowBatch {
    const now = this.#now();
    const pending = new Map<FlowEntry, [number, number, number]>();
    let startNs = Infinity;
    let endNs = 0;
    let agent: AgentStreams | undefined;
    let agentName: string | undefined;
    for (const p of plan) {
      if (p.agentKey !== agentName) {
        agentName = p.agentKey;
        agent = this.#agents.get(agentName);
        if (!agent) this.#agents.set(agentName, (agent = { entries: new EntryIndex(), seenMs: now, sentCumulative: false }));
        agent.seenMs = now;
      }
      if (!p.delta && !agent!.sentCumulative) {
        agent!.sentCumulative = true;
        cumulativeAgents.push(agentName);
      }
      const entry = p.entry;
      if (entry.state !== 'tracked') {
        if (entry.state === 'refused') {
          stats.refused++;
          continue;
        }
        if (this.#entries >= this.#maxStreams) {
          entry.state = 'refused';
          stats.refused++;
          continue;
        }
        entry.state = 'tracked';
        agent!.entries.add(p.hash, entry);
        this.#entries++;
      }
      entry.seenMs = now;
      const last = entry.points[p.metric];
      const step = p.delta ? deltaStep(last, p, stats) : cumulativeStep(last, p, stats);
      if (step === undefined) continue;
      const { delta, fromNs } = step;
      if (last) {
        last.startNs = p.startNs;
        last.timeNs = p.timeNs;
        last.value = p.value;
      } else {
        entry.points[p.metric] = { startNs: p.startNs, timeNs: p.timeNs, value: p.value };
      }
      if (delta === 0) continue;
      let sums = pending.get(entry);
      if (!sums) pending.set(entry, (sums = [0, 0, 0]));
      sums[p.metric] += delta;
      if (fromNs < startNs) startNs = fromNs;
      if (p.timeNs > endNs) endNs = p.timeNs;
    }
    const records: FlowRecord[] = [];
    for (const [entry, sums] of pending) {
      const t = entry.template;
      // A fresh record per batch: consumers may keep or change it.
      const record: FlowRecord = { ...t, src: { ...t.src }, dst: { ...t.dst }, bytes: sums[BYTES], packets: sums[PACKETS] };
      if (sums[COST] !== 0) record.costUsd = sums[COST];
      records.push(record);
    }
    const end = endNs > 0 ? Math.round(endNs / NS_PER_MS) : now;
    return { start: startNs === Infinity ? end : Math.min(end, Math.round(startNs / NS_PER_MS)), end, records };
  }

  /**
   * Forgets attribute sets their agent stopped sending: idle for the TTL
   * counted back from the agent's own last request, so an agent that cannot
   * reach the gateway for a while keeps all its streams (its next cumulative
   * export then gives true deltas, not its whole history again). An agent not
   * heard from for the (much longer) agent TTL is forgotten entirely.
   * Returns how many attribute sets were dropped.
   */
  expire(): number {
    const now = this.#now();
    let dropped = 0;
    for (const [key, agent] of this.#agents) {
      if (agent.seenMs < now - this.#agentTtlMs) {
        dropped += agent.entries.size;
        this.#agents.delete(key);
      } else {
        dropped += agent.entries.expire(agent.seenMs - this.#ttlMs);
      }
    }
    this.#entries -= dropped;
    return dropped;
  }
}
function countPoints(metric: Metric): number {
  switch (metric.data) {
    case 'sum': return metric.sum ? countSumPoints(metric.sum) : 0;
    case undefined: return 0;
    default: return metric[metric.data]?.dataPoints.length ?? 0;
  }
}
