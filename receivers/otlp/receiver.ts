/**
 * The `otlp` receiver: OTLP metrics exports over gRPC (grpc.ts) and/or HTTP
 * (http.ts), each turned into a FlowBatch by one shared path (export.ts):
 * decoded, applied once to the streams (streams.ts) whichever transport
 * carried it, and acknowledged only once the pipeline has the records. An
 * agent may switch transports: its streams are the same.
 */
import type { Counter } from '@opentelemetry/api';
import type { ComponentSettings, FlowConsumer, LifecycleContext, Receiver } from '../../pipeline/component.ts';
import type { OtlpReceiverConfig } from './config.ts';
import { ExportRequests, type OtlpReceiverCounts } from './export.ts';
import type { GrpcTransport } from './grpc.ts';
import type { HttpTransport } from './http.ts';
import { FlowStreams } from './streams.ts';

export type { OtlpReceiverCounts } from './export.ts';

export class OtlpReceiver implements Receiver {
  readonly #settings: ComponentSettings;
  readonly #config: OtlpReceiverConfig;
  readonly #streams: FlowStreams;
  readonly #requests: ExportRequests;
  readonly #connectionsRefused: Counter;
  #grpc: GrpcTransport | undefined;
  #http: HttpTransport | undefined;
  #expiry: NodeJS.Timeout | undefined;
  /** Set by shutdown(): a start() still loading a transport's modules starts nothing more. */
  #stopped = false;

  constructor(settings: ComponentSettings, config: OtlpReceiverConfig, next: FlowConsumer) {
    this.#config = Object.freeze(config);
    this.#streams = new FlowStreams({
      ttlMs: config.stream_ttl,
      agentTtlMs: config.agent_ttl,
      maxStreams: config.max_streams,
      maxBytes: config.max_streams_memory_mib * 1024 * 1024,
      limits: { valueLength: config.attribute_limits.attribute_value_length_limit, count: config.attribute_limits.attribute_count_limit },
      maxClockSkewMs: config.max_clock_skew,
    });
    this.#requests = new ExportRequests(settings, this.#streams, next);
    this.#connectionsRefused = settings.meter.createCounter('zonetap.receiver.otlp.connections.refused', { description: 'Connections closed at once because max_connections were open' });
    this.#settings = settings;
    const attrs = { component_id: settings.id };
    settings.meter
      .createObservableGauge('zonetap.receiver.otlp.streams', { description: 'Flow attribute sets tracked (the last point of each, to apply each byte once)' })
      .addCallback((r) => r.observe(this.#streams.size, attrs));
    settings.meter
      .createObservableGauge('zonetap.receiver.otlp.streams.memory_bytes', { description: 'Bytes the tracked streams hold, as counted against max_streams_memory_mib' })
      .addCallback((r) => r.observe(this.#streams.bytes, attrs));
    settings.meter
      .createObservableGauge('zonetap.receiver.otlp.connections', { description: 'Open connections, by transport' })
      .addCallback((r) => {
        if (this.#grpc) r.observe(this.#grpc.sockets.size, { ...attrs, transport: 'grpc' });
        if (this.#http) r.observe(this.#http.sockets.size, { ...attrs, transport: 'http' });
      });
  }

  /** What the receiver did since start, over both transports. */
  get counts(): OtlpReceiverCounts {
    return this.#requests.counts;
  }

  /** The bound gRPC port (useful with port 0); 0 without gRPC. */
  get port(): number {
    return this.#grpc?.port ?? 0;
  }

  /** The bound HTTP port (useful with port 0); 0 without HTTP. */
  get httpPort(): number {
    return this.#http?.port ?? 0;
  }

  get streamCount(): number {
    return this.#streams.size;
  }

  /** Memory the streams hold, as counted against max_streams_memory_mib. */
  get streamBytes(): number {
    return this.#streams.bytes;
  }

  /** Connections open now, over both transports. */
  get connections(): number {
    return (this.#grpc?.sockets.size ?? 0) + (this.#http?.sockets.size ?? 0);
  }

  async start(): Promise<void> {
    // Each transport's modules load only when the config lists it: an HTTP-only gateway never loads the gRPC stack.
    const { grpc, http } = this.#config.protocols;
    if (grpc) {
      const { GrpcTransport } = await import('./grpc.ts');
      if (this.#stopped) return;
      this.#grpc = new GrpcTransport(this.#settings, grpc, this.#requests, this.#connectionsRefused);
      await this.#grpc.start();
    }
    if (http) {
      const { HttpTransport } = await import('./http.ts');
      if (this.#stopped) return;
      this.#http = new HttpTransport(this.#settings, http, this.#requests, this.#connectionsRefused);
      await this.#http.start();
    }
    const sweep = Math.max(1000, Math.min(this.#config.stream_ttl / 2, 60_000));
    this.#expiry = setInterval(() => this.#streams.expire(), sweep);
    this.#expiry.unref();
  }

  /**
   * Serves the requests already sent, closes every connection, then waits
   * (within the deadline) for requests still being applied. Once it resolves
   * nothing more is applied: the service shuts the exporters down next, and
   * a request applied after that would reach some outputs and not others.
   */
  async shutdown(context: LifecycleContext): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#expiry);
    await Promise.all([this.#grpc?.shutdown(context), this.#http?.shutdown(context)]);
    this.#requests.stop();
    if (!(await this.#requests.drained(context))) {
      this.#settings.logger.warn('shutdown deadline passed while a request was still being applied: stopping without waiting for it');
    }
  }
}
