/**
 * The `otlp` receiver: an OTLP/gRPC MetricsService/Export server that turns
 * zonetap's flow metrics into FlowBatches (one per request), applying each
 * byte once (streams.ts). Malformed requests get INVALID_ARGUMENT and change
 * nothing; requests without the bearer token (when configured) get
 * UNAUTHENTICATED; requests over the size limit get RESOURCE_EXHAUSTED from
 * grpc-js; points refused within a good request are reported as a partial
 * success. Other agents are served throughout. gzip-compressed requests are
 * decompressed by grpc-js.
 *
 * Connections are accepted by a net.Server of our own and handed to grpc-js
 * (createConnectionInjector), so that they can be capped (`max_connections`)
 * and closed when they carry nothing (`max_connection_idle`), before any
 * authentication; grpc-js closes idle HTTP/2 sessions and old connections.
 */
import { readFileSync } from 'node:fs';
import { timingSafeEqual } from 'node:crypto';
import { createServer as createTcpServer, type Server as TcpServer, type Socket } from 'node:net';
import { Server, ServerCredentials, status, type Metadata, type sendUnaryData, type ServerUnaryCall, type ServiceDefinition } from '@grpc/grpc-js';
import type { Counter } from '@opentelemetry/api';
import type { ComponentSettings, FlowConsumer, LifecycleContext, Receiver } from '../../pipeline/component.ts';
import { remainingMs } from '../../pipeline/lifecycle.ts';
import { parseEndpoint } from '../../pipeline/schema.ts';
import type { OtlpReceiverConfig } from './config.ts';
import { decodeRequest, EMPTY_RESPONSE, partialSuccessResponse } from './proto.ts';
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
  readonly counts: OtlpReceiverCounts = { requests: 0, invalidRequests: 0, unauthenticated: 0, records: 0, consumeFailures: 0, points: 0, ignoredOther: 0, ignoredStale: 0, invalid: 0, overLimits: 0, refused: 0, resets: 0 };
  readonly #connectionsRefused: Counter;
  readonly #sockets = new Set<Socket>();
  #server: Server | undefined;
  #listener: TcpServer | undefined;
  #token: Buffer | undefined;
  #expiry: NodeJS.Timeout | undefined;
  #port = 0;

  constructor(settings: ComponentSettings, config: OtlpReceiverConfig, next: FlowConsumer) {
    this.#settings = settings;
    this.#config = Object.freeze(config);
    this.#next = next;
    this.#streams = new FlowStreams({
      ttlMs: config.stream_ttl,
      agentTtlMs: config.agent_ttl,
      maxStreams: config.max_streams,
      maxBytes: config.max_streams_memory_mib * 1024 * 1024,
      limits: { valueLength: config.attribute_limits.attribute_value_length_limit, count: config.attribute_limits.attribute_count_limit },
      maxClockSkewMs: config.max_clock_skew,
    });
    this.#requests = settings.meter.createCounter('zonetap.receiver.otlp.requests', { description: 'OTLP export requests by outcome' });
    this.#points = settings.meter.createCounter('zonetap.receiver.otlp.points', { description: 'OTLP data points by outcome (accepted, ignored_other, stale, invalid, over_limits, refused)' });
    this.#connectionsRefused = settings.meter.createCounter('zonetap.receiver.otlp.connections.refused', { description: 'Connections closed at once because max_connections were open' });
    const attrs = { component_id: settings.id };
    settings.meter
      .createObservableGauge('zonetap.receiver.otlp.streams', { description: 'Flow attribute sets tracked (the last point of each, to apply each byte once)' })
      .addCallback((r) => r.observe(this.#streams.size, attrs));
    settings.meter
      .createObservableGauge('zonetap.receiver.otlp.streams.memory_bytes', { description: 'Bytes the tracked streams hold, as counted against max_streams_memory_mib' })
      .addCallback((r) => r.observe(this.#streams.bytes, attrs));
    settings.meter
      .createObservableGauge('zonetap.receiver.otlp.connections', { description: 'Open connections' })
      .addCallback((r) => r.observe(this.#sockets.size, attrs));
  }

  /** The bound port (useful with port 0). */
  get port(): number {
    return this.#port;
  }

  get streamCount(): number {
    return this.#streams.size;
  }

  /** Memory the streams hold, as counted against max_streams_memory_mib. */
  get streamBytes(): number {
    return this.#streams.bytes;
  }

  /** Connections open now. */
  get connections(): number {
    return this.#sockets.size;
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
    const keepalive = grpc.keepalive.server_parameters;
    const server = new Server({
      'grpc.max_receive_message_length': Math.floor(grpc.max_recv_msg_size_mib * 1024 * 1024),
      'grpc.max_concurrent_streams': grpc.max_concurrent_streams,
      'grpc.max_connection_idle_ms': keepalive.max_connection_idle,
      'grpc.max_connection_age_ms': keepalive.max_connection_age,
      'grpc.max_connection_age_grace_ms': keepalive.max_connection_age_grace,
    });
    server.addService(METRICS_SERVICE, { Export: (call: ServerUnaryCall<Buffer, Buffer>, callback: sendUnaryData<Buffer>) => void this.#export(call, callback) });
    // Kept before binding, so a shutdown during start-up still closes it.
    this.#server = server;
    const injector = server.createConnectionInjector(creds);
    const listener = createTcpServer((socket) => {
      this.#sockets.add(socket);
      socket.on('close', () => this.#sockets.delete(socket));
      socket.setTimeout(keepalive.max_connection_idle, () => socket.destroy());
      socket.once('data', (chunk: Buffer) => {
        socket.pause();
        socket.unshift(chunk);
        socket.setTimeout(0);
        injector.injectConnection(socket);
      });
    });
    listener.maxConnections = grpc.max_connections;
    listener.on('drop', () => this.#connectionsRefused.add(1, { component_id: this.#settings.id }));
    listener.on('error', (err) => this.#settings.logger.error({ err }, 'OTLP listener error'));
    this.#listener = listener;
    const { host, port } = parseEndpoint(grpc.endpoint)!;
    await new Promise<void>((resolve, reject) => {
      listener.once('error', reject);
      listener.listen({ host, port }, () => {
        listener.off('error', reject);
        resolve();
      });
    }).catch((err: Error) => {
      throw new Error(`cannot serve OTLP on ${grpc.endpoint}: ${err.message}`, { cause: err });
    });
    this.#port = (listener.address() as { port: number }).port;
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
    const rejected = stats.invalid + stats.overLimits + stats.refused;
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
      callback(null, rejected === 0 ? EMPTY_RESPONSE : partialSuccessResponse(rejected, rejectionMessage(stats)));
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
    c.overLimits += stats.overLimits;
    c.refused += stats.refused;
    c.resets += stats.resets;
    const component_id = this.#settings.id;
    const accepted = stats.points - stats.ignoredStale - stats.invalid - stats.overLimits - stats.refused;
    if (accepted) this.#points.add(accepted, { component_id, outcome: 'accepted' });
    if (stats.ignoredOther) this.#points.add(stats.ignoredOther, { component_id, outcome: 'ignored_other' });
    if (stats.ignoredStale) this.#points.add(stats.ignoredStale, { component_id, outcome: 'stale' });
    if (stats.invalid) this.#points.add(stats.invalid, { component_id, outcome: 'invalid' });
    if (stats.overLimits) this.#points.add(stats.overLimits, { component_id, outcome: 'over_limits' });
    if (stats.refused) this.#points.add(stats.refused, { component_id, outcome: 'refused' });
  }

  async shutdown(context: LifecycleContext): Promise<void> {
    clearInterval(this.#expiry);
    // No new connections (close() calls back only once every connection is gone: not awaited);
    // those open are closed by grpc-js below once their requests are answered.
    this.#listener?.close();
    this.#listener = undefined;
    const server = this.#server;
    if (!server) return;
    this.#server = undefined;
    // Let requests in flight finish while the deadline allows (at most 5 s), then cut the rest.
    await new Promise<void>((resolve) => {
      const force = setTimeout(() => {
        server.forceShutdown();
        for (const socket of this.#sockets) socket.destroy();
        resolve();
      }, Math.min(5000, remainingMs(context) / 2));
      server.tryShutdown(() => {
        clearTimeout(force);
        resolve();
      });
    });
  }
}

/** The partial success message: how many points were rejected, and why. */
function rejectionMessage(stats: IngestStats): string {
  const parts: string[] = [];
  if (stats.invalid) parts.push(`${stats.invalid} invalid (no time or temporality, a value that is not a finite number >= 0 or adds more than 2^53, a start after the time, or a time too far ahead of the gateway's clock)`);
  if (stats.overLimits) parts.push(`${stats.overLimits} with attributes over attribute_value_length_limit or attribute_count_limit`);
  if (stats.refused) parts.push(`${stats.refused} of new streams past max_streams or max_streams_memory_mib`);
  return `data points rejected: ${parts.join('; ')}`;
}
