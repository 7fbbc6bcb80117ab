/**
 * The `otlp` receiver: an OTLP/gRPC MetricsService/Export server that turns
 * zonetap's cumulative flow metrics back into FlowBatches (one per request).
 * Malformed requests get INVALID_ARGUMENT and change nothing; requests without
 * the bearer token (when configured) get UNAUTHENTICATED; requests over the
 * size limit get RESOURCE_EXHAUSTED from grpc-js. Other agents are served
 * throughout. gzip-compressed requests are decompressed by grpc-js.
 */
import { readFileSync } from 'node:fs';
import { timingSafeEqual } from 'node:crypto';
import { Server, ServerCredentials, status, type Metadata, type sendUnaryData, type ServerUnaryCall, type ServiceDefinition } from '@grpc/grpc-js';
import type { Counter } from '@opentelemetry/api';
import type { ComponentSettings, FlowConsumer, LifecycleContext, Receiver } from '../../pipeline/component.ts';
import { remainingMs } from '../../pipeline/lifecycle.ts';
import type { OtlpReceiverConfig } from './config.ts';
import { decodeRequest, EMPTY_RESPONSE } from './proto.ts';
import { FlowStreams, type IngestStats } from './streams.ts';

export const EXPORT_PATH = '/opentelemetry.proto.collector.metrics.v1.MetricsService/Export';

/** MetricsService with raw bytes in and out: decoding happens in the handler, so errors become INVALID_ARGUMENT. */
const METRICS_SERVICE: ServiceDefinition = {
  Export: {
    path: EXPORT_PATH,
    requestStream: false,
    responseStream: false,
    requestSerialize: (b: Buffer) => b,
    requestDeserialize: (b: Buffer) => b,
    responseSerialize: (b: Buffer) => b,
    responseDeserialize: (b: Buffer) => b,
  },
};

/** Running totals of what the receiver did, since start. */
export interface OtlpReceiverCounts extends IngestStats {
  requests: number;
  invalidRequests: number;
  unauthenticated: number;
  records: number;
  consumeFailures: number;
}

export class OtlpReceiver implements Receiver {
  readonly #settings: ComponentSettings;
  readonly #config: OtlpReceiverConfig;
  readonly #next: FlowConsumer;
  readonly #streams: FlowStreams;
  readonly #requests: Counter;
  readonly #points: Counter;
  readonly counts: OtlpReceiverCounts = { requests: 0, invalidRequests: 0, unauthenticated: 0, records: 0, consumeFailures: 0, points: 0, ignoredOther: 0, ignoredStale: 0, invalid: 0, refused: 0, resets: 0 };
  #server: Server | undefined;
  #token: Buffer | undefined;
  #expiry: NodeJS.Timeout | undefined;
  #port = 0;

  constructor(settings: ComponentSettings, config: OtlpReceiverConfig, next: FlowConsumer) {
    this.#settings = settings;
    this.#config = Object.freeze(config);
    this.#next = next;
    this.#streams = new FlowStreams({ ttlMs: config.stream_ttl, agentTtlMs: config.agent_ttl, maxStreams: config.max_streams });
    this.#requests = settings.meter.createCounter('zonetap.receiver.otlp.requests', { description: 'OTLP export requests by outcome' });
    this.#points = settings.meter.createCounter('zonetap.receiver.otlp.points', { description: 'OTLP data points by outcome (accepted, ignored_other, stale, invalid, refused)' });
    settings.meter
      .createObservableGauge('zonetap.receiver.otlp.streams', { description: 'Flow attribute sets tracked for cumulative-to-delta conversion' })
      .addCallback((r) => r.observe(this.#streams.size, { component_id: settings.id }));
  }

  /** The bound port (useful with port 0). */
  get port(): number {
    return this.#port;
  }

  get streamCount(): number {
    return this.#streams.size;
  }

  async start(): Promise<void> {
    const grpc = this.#config.protocols.grpc;
    if (grpc.auth) {
      const token = readFileSync(grpc.auth.bearer_token_file, 'utf8').trim();
      if (!token) throw new Error(`bearer_token_file "${grpc.auth.bearer_token_file}" is empty`);
      this.#token = Buffer.from(`Bearer ${token}`);
    }
    const creds = grpc.tls
      ? ServerCredentials.createSsl(
          grpc.tls.client_ca_file ? readFileSync(grpc.tls.client_ca_file) : null,
          [{ private_key: readFileSync(grpc.tls.key_file), cert_chain: readFileSync(grpc.tls.cert_file) }],
          grpc.tls.client_ca_file !== undefined,
        )
      : ServerCredentials.createInsecure();
    const server = new Server({ 'grpc.max_receive_message_length': Math.floor(grpc.max_recv_msg_size_mib * 1024 * 1024) });
    server.addService(METRICS_SERVICE, { Export: (call: ServerUnaryCall<Buffer, Buffer>, callback: sendUnaryData<Buffer>) => void this.#export(call, callback) });
    // Kept before binding, so a shutdown during start-up still closes it.
    this.#server = server;
    this.#port = await new Promise<number>((resolve, reject) => server.bindAsync(grpc.endpoint, creds, (err, port) => (err ? reject(err) : resolve(port))));
    const sweep = Math.max(1000, Math.min(this.#config.stream_ttl / 2, 60_000));
    this.#expiry = setInterval(() => this.#streams.expire(), sweep);
    this.#expiry.unref();
    this.#settings.logger.info({ endpoint: grpc.endpoint, port: this.#port, tls: grpc.tls !== undefined, auth: grpc.auth !== undefined }, 'OTLP receiver listening');
  }

  #authorized(metadata: Metadata): boolean {
    if (!this.#token) return true;
    const header = metadata.get('authorization')[0];
    if (typeof header !== 'string') return false;
    const given = Buffer.from(header);
    return given.length === this.#token.length && timingSafeEqual(given, this.#token);
  }

  async #export(call: ServerUnaryCall<Buffer, Buffer>, callback: sendUnaryData<Buffer>): Promise<void> {
    const id = this.#settings.id;
    this.counts.requests++;
    if (!this.#authorized(call.metadata)) {
      this.counts.unauthenticated++;
      this.#requests.add(1, { component_id: id, outcome: 'unauthenticated' });
      callback({ code: status.UNAUTHENTICATED, details: 'missing or wrong bearer token' });
      return;
    }
    let ingested;
    try {
      ingested = this.#streams.ingest(decodeRequest(call.request));
    } catch (err) {
      this.counts.invalidRequests++;
      this.#requests.add(1, { component_id: id, outcome: 'invalid_argument' });
      this.#settings.logger.debug({ err: (err as Error).message, peer: call.getPeer() }, 'malformed OTLP request refused');
      callback({ code: status.INVALID_ARGUMENT, details: `malformed ExportMetricsServiceRequest: ${(err as Error).message}` });
      return;
    }
    const { batch, stats, cumulativeAgents } = ingested;
    this.#count(stats);
    for (const agent of cumulativeAgents) {
      this.#settings.logger.warn(
        { agent, peer: call.getPeer() },
        'agent sends cumulative totals: after a gateway restart or a failover its whole history is counted again; set temporality: delta on its otlp exporter',
      );
    }
    try {
      if (batch.records.length > 0) await this.#next.consume(batch);
      this.counts.records += batch.records.length;
      this.#requests.add(1, { component_id: id, outcome: 'ok' });
      callback(null, EMPTY_RESPONSE);
    } catch (err) {
      // Not expected in a pipeline: the service wraps every consumer (pipeline/observed.ts) so a
      // downstream failure becomes a logged, counted drop there and consume() resolves. Only a
      // consumer used directly (tests, embedding) can reject; the deltas are then already taken
      // from the streams (a resend would not bring them back), so the data is lost: count it here.
      this.counts.consumeFailures++;
      this.#requests.add(1, { component_id: id, outcome: 'consume_failed' });
      this.#settings.logger.warn({ err: (err as Error).message, records: batch.records.length }, 'pipeline refused flow records from OTLP');
      callback({ code: status.INTERNAL, details: 'pipeline refused the records' });
    }
  }

  #count(stats: IngestStats): void {
    const c = this.counts;
    c.points += stats.points;
    c.ignoredOther += stats.ignoredOther;
    c.ignoredStale += stats.ignoredStale;
    c.invalid += stats.invalid;
    c.refused += stats.refused;
    c.resets += stats.resets;
    const component_id = this.#settings.id;
    const accepted = stats.points - stats.ignoredStale - stats.invalid - stats.refused;
    if (accepted) this.#points.add(accepted, { component_id, outcome: 'accepted' });
    if (stats.ignoredOther) this.#points.add(stats.ignoredOther, { component_id, outcome: 'ignored_other' });
    if (stats.ignoredStale) this.#points.add(stats.ignoredStale, { component_id, outcome: 'stale' });
    if (stats.invalid) this.#points.add(stats.invalid, { component_id, outcome: 'invalid' });
    if (stats.refused) this.#points.add(stats.refused, { component_id, outcome: 'refused' });
  }

  async shutdown(context: LifecycleContext): Promise<void> {
    clearInterval(this.#expiry);
    const server = this.#server;
    if (!server) return;
    this.#server = undefined;
    // Let requests in flight finish while the deadline allows (at most 5 s), then cut the rest.
    await new Promise<void>((resolve) => {
      const force = setTimeout(() => {
        server.forceShutdown();
        resolve();
      }, Math.min(5000, remainingMs(context) / 2));
      server.tryShutdown(() => {
        clearTimeout(force);
        resolve();
      });
    });
  }
}
