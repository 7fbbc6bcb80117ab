/**
 * Many zonetap agents in one process, for gateways under load (the scale
 * benchmark) and sharded gateways (their test): each agent has its own node,
 * `service.instance.id` and gRPC connection, and exports what a real agent
 * sends a gateway (config/agent.yaml: pod pairs after `aggregate: by: pod`,
 * delta temporality, gzip, one request of its series per interval, each
 * window starting at the last acknowledged export).
 *
 * Encoding 500 series with the official serializer costs an agent ~8 ms a
 * request, 8 CPU-seconds an interval for 1,000 agents, which would starve the
 * gateway under test on a small machine. So each agent's request is encoded
 * once, by the exporter's own code (FlowTotals' delta snapshot,
 * flowResourceMetrics, ProtobufMetricsSerializer), with marker times; every
 * export copies it and writes the window's start and end over the markers.
 * Both are fixed64 fields in OTLP, so the bytes are those the exporter would
 * send at those times.
 */
import { randomUUID } from 'node:crypto';
import { Client, credentials, Metadata } from '@grpc/grpc-js';
import { ProtobufMetricsSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { flowResourceMetrics } from '../../exporters/otlp/metrics.ts';
import { FlowTotals } from '../../exporters/otlp/store.ts';
import type { FlowEndpoint, FlowRecord } from '../../pipeline/flow.ts';
import { EXPORT_PATH } from '../../receivers/otlp/proto.ts';

export interface FleetOptions {
  agents: number;
  /** Flow series (pod pairs) each agent sends every interval. */
  series: number;
  zones?: number;
  /** Bytes and packets of every series in every window. */
  bytesPerWindow?: number;
  packetsPerWindow?: number;
  /** Sent as `authorization: Bearer <token>`, as config/agent.yaml does. */
  token?: string;
}

/** Times far from any real export, whose nanoseconds occur nowhere else in a request. */
const MARKER_START_MS = 1_000_000_000_111;
const MARKER_END_MS = 1_000_000_000_222;
/**
 * Deadline of one export. Agents give up after 10 s and re-send a longer
 * window; a fleet waits, so that a saturated gateway shows as a stretched
 * interval (what it costs) rather than as retries (what that costs again).
 */
const EXPORT_DEADLINE_MS = 300_000;
/** NumberDataPoint.start_time_unix_nano (field 2) and time_unix_nano (field 3), both fixed64. */
const START_TAG = 0x11;
const END_TAG = 0x19;

const nanos = (ms: number) => BigInt(ms) * 1_000_000n;

/** Offsets (of the value, after the tag) of every `tag` + fixed64 `value` in `body`. */
function fieldOffsets(body: Buffer, tag: number, value: bigint): number[] {
  const needle = Buffer.alloc(9);
  needle[0] = tag;
  needle.writeBigUInt64LE(value, 1);
  const out: number[] = [];
  for (let at = body.indexOf(needle); at >= 0; at = body.indexOf(needle, at + 9)) out.push(at + 1);
  return out;
}

/** A pod on `node` as `aggregate: by: pod` leaves it: names, no address. */
function podOn(node: number, zones: number, index: number): FlowEndpoint {
  const workload = `service-${index % 97}`;
  return {
    address: '', port: 0, namespace: `team-${index % 23}`, pod: `${workload}-7d9f8b6c5-${(node * 1000 + index).toString(36).padStart(5, 'x')}`,
    workloadKind: 'Deployment', workloadName: workload, node: `node-${node}`, zone: `zone-${node % zones}`, region: 'region-1',
  };
}

export class FleetAgent {
  readonly node: string;
  readonly instanceId = randomUUID();
  readonly series: number;
  readonly bytesPerWindow: number;
  readonly packetsPerWindow: number;
  /** Bytes and packets the gateways acknowledged: what this agent sent, exactly once each. */
  sentBytes = 0;
  sentPackets = 0;
  readonly #template: Buffer;
  readonly #starts: number[];
  readonly #ends: number[];
  readonly #metadata = new Metadata();
  #client: Client | undefined;
  /** Start of the open window: the last acknowledged export, or when the series were first seen. */
  #windowStart = Date.now();
  #lastTime = 0;

  constructor(index: number, options: Required<Omit<FleetOptions, 'token'>> & { token?: string }) {
    this.node = `node-${index}`;
    this.series = options.series;
    this.bytesPerWindow = options.bytesPerWindow;
    this.packetsPerWindow = options.packetsPerWindow;
    if (options.token) this.#metadata.set('authorization', `Bearer ${options.token}`);
    const records: FlowRecord[] = [];
    for (let s = 0; s < options.series; s++) {
      const peer = (index + 1 + (s % 61)) % options.agents;
      records.push({ src: podOn(index, options.zones, s % 40), dst: podOn(peer, options.zones, s), transport: 'tcp', ipFamily: 'ipv4', bytes: options.bytesPerWindow, packets: options.packetsPerWindow });
    }
    const totals = new FlowTotals({ ttlMs: 3_600_000, maxSeries: options.series + 1 });
    totals.add({ start: 0, end: 1, records });
    const points = totals.snapshot('delta').map((p) => ({ ...p, startTime: MARKER_START_MS }));
    if (points.length !== options.series) throw new Error(`agent ${this.node}: ${points.length} series, not ${options.series} (pod pairs repeat)`);
    const resource = resourceFromAttributes({ 'service.name': 'zonetap', 'service.instance.id': this.instanceId, 'host.name': this.node, 'k8s.node.name': this.node });
    this.#template = Buffer.from(ProtobufMetricsSerializer.serializeRequest(flowResourceMetrics(resource, points, MARKER_END_MS, 'delta'))!);
    this.#starts = fieldOffsets(this.#template, START_TAG, nanos(MARKER_START_MS));
    this.#ends = fieldOffsets(this.#template, END_TAG, nanos(MARKER_END_MS));
    // Bytes and packets: one point each per series.
    if (this.#starts.length !== 2 * options.series || this.#ends.length !== 2 * options.series) throw new Error(`agent ${this.node}: ${this.#starts.length} start and ${this.#ends.length} end times found, not ${2 * options.series}`);
  }

  /** Size of one export request before gzip. */
  get requestBytes(): number {
    return this.#template.length;
  }

  /** Sends from now on to `endpoint` (host:port) over a connection of its own, as a new Service endpoint would. */
  route(endpoint: string): void {
    this.#client?.close();
    this.#client = new Client(endpoint, credentials.createInsecure(), {
      'grpc.default_compression_algorithm': 2, // gzip, as the agent's exporter
      'grpc.use_local_subchannel_pool': 1, // one connection per agent, not one shared by the process
    });
  }

  /** One export of every series (the window since the last acknowledged one); resolves once acknowledged, throws if not. */
  async export(): Promise<void> {
    const client = this.#client;
    if (!client) throw new Error(`agent ${this.node} has no gateway: route() first`);
    this.#lastTime = Math.max(Date.now(), this.#lastTime + 1);
    const time = this.#lastTime;
    const body = Buffer.from(this.#template);
    for (const at of this.#starts) body.writeBigUInt64LE(nanos(this.#windowStart), at);
    for (const at of this.#ends) body.writeBigUInt64LE(nanos(time), at);
    const response = await new Promise<Buffer | undefined>((resolve, reject) =>
      client.makeUnaryRequest(EXPORT_PATH, (b: Buffer) => b, (b: Buffer) => b, body, this.#metadata, { deadline: Date.now() + EXPORT_DEADLINE_MS }, (err, res) =>
        err ? reject(new Error(`agent ${this.node}: export failed: ${err.message}`)) : resolve(res),
      ),
    );
    // A partial success (rejected points) is a non-empty response: nothing of a bench or test may be refused.
    if (response?.length) throw new Error(`agent ${this.node}: the gateway refused points: ${response.toString('latin1').replace(/[^\x20-\x7e]/g, ' ').trim()}`);
    this.#windowStart = time;
    this.sentBytes += this.series * this.bytesPerWindow;
    this.sentPackets += this.series * this.packetsPerWindow;
  }

  close(): void {
    this.#client?.close();
    this.#client = undefined;
  }
}

/** `options.agents` agents, nodes `node-0` ... in `zones` zones (`zone-<node % zones>`). */
export function agentFleet(options: FleetOptions): FleetAgent[] {
  const full = { zones: 3, bytesPerWindow: 15_000, packetsPerWindow: 11, ...options };
  return Array.from({ length: options.agents }, (_, i) => new FleetAgent(i, full));
}
