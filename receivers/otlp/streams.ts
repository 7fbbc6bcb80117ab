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
 * state (restart) or forgot an agent applies the agent's first points whole.
 *
 * Bounds against hostile or broken senders: invalid points (point-rules.ts)
 * and points whose attributes break the limits (limits.ts) are counted and
 * change nothing; new streams are refused past `maxStreams` or when their
 * memory (entries.ts) would pass `maxBytes`.
 *
 * ingest() validates and plans the whole request before changing anything, so
 * a request that fails to decode leaves every stream as it was.
 */
import { attributesToRecord } from '../../pipeline/attributes.ts';
import type { FlowBatch, FlowRecord } from '../../pipeline/flow.ts';
import { agentBytes, EntryIndex, entryBytes, type FlowEntry } from './entries.ts';
import { attributesOverLimits, maxEncodedAttributesBytes, type AttributeLimits } from './limits.ts';
import { cumulativeStep, deltaStep, invalidPoint, MAX_STEP } from './point-rules.ts';
import {
  AGGREGATION_TEMPORALITY_CUMULATIVE,
  AGGREGATION_TEMPORALITY_DELTA,
  anyValueToJs,
  decodePointAttributeList,
  keyValuesToRecord,
  type ExportMetricsServiceRequest,
  type KeyValue,
  type Metric,
} from './proto.ts';
import { countSumPoints, SumReader } from './points.ts';

export const FLOW_METRICS = ['zonetap.network.flow.bytes', 'zonetap.network.flow.packets', 'zonetap.network.flow.cost_usd'] as const;
const BYTES = 0;
const PACKETS = 1;
const COST = 2;

interface AgentStreams {
  entries: EntryIndex;
  seenMs: number;
  /** agentBytes() of this agent. */
  bytes: number;
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
  /** Points without a time or temporality, with a value that is not a finite number >= 0 or adds more than 2^53, a start after their time, or a time too far ahead. */
  invalid: number;
  /** Points whose attributes (or whose resource's) break attribute_value_length_limit or attribute_count_limit. */
  overLimits: number;
  /** Points refused because max_streams or the streams' memory limit was reached. */
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
  /** Most bytes the streams may hold (entries.ts counts them); default: no limit. */
  maxBytes?: number;
  /** Attribute limits of points and resources; default: none. */
  limits?: AttributeLimits;
  /** How far ahead of `now` a point's time may be; default 10 minutes. */
  maxClockSkewMs?: number;
  now?: () => number;
}

const NS_PER_MS = 1e6;
const DEFAULT_AGENT_TTL_MS = 24 * 3600_000;
const DEFAULT_MAX_CLOCK_SKEW_MS = 10 * 60_000;
const NO_LIMITS: AttributeLimits = { valueLength: Infinity, count: Infinity };

function newStats(): IngestStats {
  return { points: 0, ignoredOther: 0, ignoredStale: 0, invalid: 0, overLimits: 0, refused: 0, resets: 0 };
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

function countPoints(metric: Metric): number {
  switch (metric.data) {
    case 'sum': return metric.sum ? countSumPoints(metric.sum) : 0;
    case undefined: return 0;
    default: return metric[metric.data]?.dataPoints.length ?? 0;
  }
}

export class FlowStreams {
  readonly #agents = new Map<string, AgentStreams>();
  readonly #ttlMs: number;
  readonly #agentTtlMs: number;
  readonly #maxStreams: number;
  readonly #maxBytes: number;
  readonly #limits: AttributeLimits;
  readonly #maxEncodedAttributes: number;
  readonly #maxClockSkewNs: number;
  readonly #now: () => number;
  #entries = 0;
  #bytes = 0;

  constructor(options: FlowStreamsOptions) {
    this.#ttlMs = options.ttlMs;
    this.#agentTtlMs = Math.max(options.ttlMs, options.agentTtlMs ?? DEFAULT_AGENT_TTL_MS);
    this.#maxStreams = options.maxStreams;
    this.#maxBytes = options.maxBytes ?? Infinity;
    this.#limits = options.limits ?? NO_LIMITS;
    this.#maxEncodedAttributes = maxEncodedAttributesBytes(this.#limits);
    this.#maxClockSkewNs = (options.maxClockSkewMs ?? DEFAULT_MAX_CLOCK_SKEW_MS) * NS_PER_MS;
    this.#now = options.now ?? Date.now;
  }

  /** Attribute sets currently tracked, over all agents. */
  get size(): number {
    return this.#entries;
  }

  get agents(): number {
    return this.#agents.size;
  }

  /** Memory held by the streams and their agents, as entries.ts counts it (at most `maxBytes`). */
  get bytes(): number {
    return this.#bytes;
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
    const nowNs = this.#now() * NS_PER_MS;
    /** Entries first seen in this request, per agent, so bytes and packets of a new attribute set share one. */
    const firstSeen = new Map<string, EntryIndex>();
    for (const rm of request.resourceMetrics) {
      const resourceOverLimits = attributesOverLimits(rm.resource?.attributes ?? [], this.#limits) !== undefined;
      const agent = resourceOverLimits ? '' : agentKey(rm.resource?.attributes);
      const known = this.#agents.get(agent)?.entries;
      for (const sm of rm.scopeMetrics) {
        for (const metric of sm.metrics) {
          const index = FLOW_METRICS.indexOf(metric.name as (typeof FLOW_METRICS)[number]) as -1 | 0 | 1 | 2;
          if (index === -1 || metric.data !== 'sum' || !metric.sum) {
            stats.ignoredOther += countPoints(metric);
            continue;
          }
          const sum = new SumReader(metric.sum);
          if (resourceOverLimits) {
            stats.points += sum.count;
            stats.overLimits += sum.count;
            continue;
          }
          if (!sum.monotonic) {
            stats.ignoredOther += sum.count;
            continue;
          }
          const temporality = sum.temporality;
          if (temporality !== AGGREGATION_TEMPORALITY_CUMULATIVE && temporality !== AGGREGATION_TEMPORALITY_DELTA) {
            stats.points += sum.count;
            stats.invalid += sum.count;
            continue;
          }
          while (sum.next()) {
            stats.points++;
            if (invalidPoint(sum, nowNs, this.#maxClockSkewNs) !== undefined) {
              stats.invalid++;
              continue;
            }
            const hash = sum.attributesHash();
            let fresh = firstSeen.get(agent);
            if (!fresh) firstSeen.set(agent, (fresh = new EntryIndex()));
            let entry = known?.find(hash, sum) ?? fresh.find(hash, sum);
            if (!entry) {
              entry = this.#newEntry(sum);
              if (!entry) {
                stats.overLimits++;
                continue;
              }
              fresh.add(hash, entry);
            }
            plan.push({ agentKey: agent, hash, entry, metric: index, startNs: sum.startNs, timeNs: sum.timeNs, value: sum.value, delta: temporality === AGGREGATION_TEMPORALITY_DELTA });
          }
        }
      }
    }
    return plan;
  }

  /** An entry for the current point's attribute set, or undefined when its attributes break the limits. */
  #newEntry(sum: SumReader): FlowEntry | undefined {
    const key = sum.attributesBytes();
    // Cheap first: bytes that cannot fit the limits are not even decoded.
    if (key.length > this.#maxEncodedAttributes) return undefined;
    const attributes = decodePointAttributeList(sum.pointBytes());
    if (attributesOverLimits(attributes, this.#limits) !== undefined) return undefined;
    // A private copy of exactly its size (Buffer.from() of a larger key takes about 30 % more).
    const copy = Buffer.allocUnsafeSlow(key.length);
    key.copy(copy);
    const template: FlowRecord = attributesToRecord(keyValuesToRecord(attributes), 0, 0);
    return { key: copy, template, points: [undefined, undefined, undefined], bytes: entryBytes(copy, template), seenMs: 0, collision: undefined, state: 'pending' };
  }

  /** Applies the plan; agents seen sending cumulative points for the first time are added to `cumulativeAgents`. */
  #apply(plan: readonly PlannedPoint[], stats: IngestStats, cumulativeAgents: string[]): FlowBatch {
    const now = this.#now();
    const pending = new Map<FlowEntry, [number, number, number]>();
    let startNs = Infinity;
    let endNs = 0;
    for (const p of plan) {
      const entry = p.entry;
      let agent = this.#agents.get(p.agentKey);
      if (entry.state !== 'tracked') {
        if (entry.state === 'refused' || !this.#track(p, agent)) {
          entry.state = 'refused';
          stats.refused++;
          continue;
        }
        agent = this.#agents.get(p.agentKey)!;
      }
      agent!.seenMs = now;
      if (!p.delta && !agent!.sentCumulative) {
        agent!.sentCumulative = true;
        cumulativeAgents.push(p.agentKey);
      }
      entry.seenMs = now;
      const last = entry.points[p.metric];
      const step = p.delta ? deltaStep(last, p) : cumulativeStep(last, p);
      if (step === undefined) {
        stats.ignoredStale++;
        continue;
      }
      if (step.delta > MAX_STEP) {
        stats.invalid++;
        continue;
      }
      if (step.reset) stats.resets++;
      if (last) {
        last.startNs = p.startNs;
        last.timeNs = p.timeNs;
        last.value = p.value;
      } else {
        entry.points[p.metric] = { startNs: p.startNs, timeNs: p.timeNs, value: p.value };
      }
      if (step.delta === 0) continue;
      let sums = pending.get(entry);
      if (!sums) pending.set(entry, (sums = [0, 0, 0]));
      sums[p.metric] += step.delta;
      if (step.fromNs < startNs) startNs = step.fromNs;
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
   * Starts tracking a pending entry (and its agent, the first time), unless
   * max_streams or the memory limit would be passed; false then.
   */
  #track(p: PlannedPoint, agent: AgentStreams | undefined): boolean {
    const added = p.entry.bytes + (agent ? 0 : agentBytes(p.agentKey));
    if (this.#entries >= this.#maxStreams || this.#bytes + added > this.#maxBytes) return false;
    if (!agent) this.#agents.set(p.agentKey, (agent = { entries: new EntryIndex(), seenMs: 0, bytes: agentBytes(p.agentKey), sentCumulative: false }));
    p.entry.state = 'tracked';
    agent.entries.add(p.hash, p.entry);
    this.#entries++;
    this.#bytes += added;
    return true;
  }

  /**
   * Forgets attribute sets their agent stopped sending: idle for the TTL
   * counted back from the agent's own last request, so an agent that cannot
   * reach the gateway for a while keeps all its streams (a re-sent window is
   * still recognised, and a cumulative export still gives true deltas). An
   * agent not heard from for the (much longer) agent TTL, or left with no
   * stream, is forgotten entirely. Returns how many attribute sets were dropped.
   */
  expire(): number {
    const now = this.#now();
    let dropped = 0;
    for (const [key, agent] of this.#agents) {
      if (agent.seenMs < now - this.#agentTtlMs) {
        dropped += agent.entries.size;
        this.#bytes -= agent.entries.bytes;
      } else {
        const expired = agent.entries.expire(agent.seenMs - this.#ttlMs);
        dropped += expired.entries;
        this.#bytes -= expired.bytes;
        if (agent.entries.size > 0) continue;
      }
      this.#bytes -= agent.bytes;
      this.#agents.delete(key);
    }
    this.#entries -= dropped;
    return dropped;
  }
}
