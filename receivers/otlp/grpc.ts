/**
 * OTLP/gRPC transport of the `otlp` receiver: MetricsService/Export with raw
 * bytes in and out (export.ts decodes and applies). Malformed requests get
 * INVALID_ARGUMENT, requests without the bearer token UNAUTHENTICATED,
 * requests over the size limit RESOURCE_EXHAUSTED (from grpc-js, which also
 * decompresses gzip); points refused within a good request are a partial
 * success.
 *
 * Connections are accepted by a net.Server of our own and handed to grpc-js
 * (createConnectionInjector), so that they can be capped (`max_connections`)
 * and closed when they carry nothing (`max_connection_idle`), before any
 * authentication; grpc-js closes idle HTTP/2 sessions and old connections.
 * Owning the sockets also gives the shutdown its end: see shutdown().
 */
import { readFileSync } from 'node:fs';
import { createServer as createTcpServer, type Server as TcpServer, type Socket } from 'node:net';
import { Server, ServerCredentials, status, type sendUnaryData, type ServerUnaryCall, type ServiceDefinition } from '@grpc/grpc-js';
import type { Counter } from '@opentelemetry/api';
import type { ComponentSettings, LifecycleContext } from '../../pipeline/component.ts';
import { remainingMs } from '../../pipeline/lifecycle.ts';
import { parseEndpoint } from '../../pipeline/schema.ts';
import type { GrpcProtocolConfig } from './config.ts';
import { bearerToken, type ExportRequests } from './export.ts';
import { EMPTY_RESPONSE, EXPORT_PATH, partialSuccessResponse } from './proto.ts';


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

export class GrpcTransport {
  readonly #settings: ComponentSettings;
  readonly #config: GrpcProtocolConfig;
  readonly #requests: ExportRequests;
  readonly #connectionsRefused: Counter;
  readonly sockets = new Set<Socket>();
  /** Accepted connections not handed to grpc-js yet: nothing has arrived on them. */
  readonly #silent = new Set<Socket>();
  #closing = false;
  /** Resolves once the last connection closed, after the shutdown began. */
  readonly #allClosed = Promise.withResolvers<void>();
  #server: Server | undefined;
  #listener: TcpServer | undefined;
  #token: Buffer | undefined;
  port = 0;

  constructor(settings: ComponentSettings, config: GrpcProtocolConfig, requests: ExportRequests, connectionsRefused: Counter) {
    this.#settings = settings;
    this.#config = config;
    this.#requests = requests;
    this.#connectionsRefused = connectionsRefused;
  }

  async start(): Promise<void> {
    const grpc = this.#config;
    if (grpc.auth) this.#token = bearerToken(grpc.auth.bearer_token_file);
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
      this.sockets.add(socket);
      this.#silent.add(socket);
      socket.on('close', () => {
        this.sockets.delete(socket);
        this.#silent.delete(socket);
        if (this.#closing && this.sockets.size === 0) this.#allClosed.resolve();
      });
      socket.setTimeout(keepalive.max_connection_idle, () => socket.destroy());
      socket.once('data', (chunk: Buffer) => {
        this.#silent.delete(socket);
        socket.pause();
        socket.unshift(chunk);
        socket.setTimeout(0);
        injector.injectConnection(socket);
      });
    });
    listener.maxConnections = grpc.max_connections;
    listener.on('drop', () => this.#connectionsRefused.add(1, { component_id: this.#settings.id, transport: 'grpc' }));
    listener.on('error', (err) => this.#settings.logger.error({ err }, 'OTLP/gRPC listener error'));
    this.#listener = listener;
    this.port = await listen(listener, grpc.endpoint, 'OTLP');
    this.#settings.logger.info({ endpoint: grpc.endpoint, port: this.port, tls: grpc.tls !== undefined, auth: grpc.auth !== undefined }, 'OTLP/gRPC receiver listening');
  }

  async #export(call: ServerUnaryCall<Buffer, Buffer>, callback: sendUnaryData<Buffer>): Promise<void> {
    const authorization = call.metadata.get('authorization')[0];
    if (!this.#requests.authorize('grpc', this.#token, typeof authorization === 'string' ? authorization : undefined)) {
      callback({ code: status.UNAUTHENTICATED, details: 'missing or wrong bearer token' });
      return;
    }
    const outcome = await this.#requests.export('grpc', { protobuf: call.request }, call.getPeer());
    switch (outcome.kind) {
      case 'ok':
        callback(null, outcome.rejected === 0 ? EMPTY_RESPONSE : partialSuccessResponse(outcome.rejected, outcome.message));
        return;
      case 'invalid':
        callback({ code: status.INVALID_ARGUMENT, details: outcome.message });
        return;
      case 'consume_failed':
        callback({ code: status.INTERNAL, details: 'pipeline refused the records' });
        return;
      case 'unavailable':
        callback({ code: status.UNAVAILABLE, details: 'the gateway is shutting down; retry' });
        return;
    }
  }

  /**
   * Requests already sent are served; then every connection is gone. The end
   * is when our own sockets have closed, not grpc-js's tryShutdown callback:
   * Node's Http2Server.close() (which tryShutdown calls first) marks every
   * session closed, so grpc-js finds them closed and calls back at once, with
   * requests still arriving or being applied (grpc-js 1.14 on Node 24). A
   * gracefully closing session ends its connection only once its last
   * request is answered, so the sockets are the sign. The receiver then
   * waits for requests still being applied (ExportRequests.drained()).
   */
  async shutdown(context: LifecycleContext): Promise<void> {
    this.#closing = true;
    // No new connections; those that sent nothing yet carry no request: close them
    // rather than hand them to grpc-js after its shutdown, which would serve them unwatched.
    this.#listener?.close();
    this.#listener = undefined;
    for (const socket of this.#silent) socket.destroy();
    const server = this.#server;
    if (!server) return;
    this.#server = undefined;
    // GOAWAY on every connection: requests already sent are served, later ones go to another gateway.
    server.tryShutdown(() => undefined);
    // Let them finish while the deadline allows (at most 5 s), then cut the rest.
    let force: NodeJS.Timeout | undefined;
    const forced = new Promise<void>((resolve) => (force = setTimeout(resolve, Math.min(5000, remainingMs(context) / 2))));
    if (this.sockets.size > 0) await Promise.race([this.#allClosed.promise, forced]);
    clearTimeout(force);
    if (this.sockets.size === 0) return;
    // Requests on the connections cut now cannot be answered: apply none of them.
    this.#requests.stop();
    server.forceShutdown();
    for (const socket of this.sockets) socket.destroy();
  }
}

/** Binds `listener` to `endpoint`; resolves with the port, or throws naming the endpoint. */
export async function listen(listener: TcpServer, endpoint: string, what: string): Promise<number> {
  const { host, port } = parseEndpoint(endpoint)!;
  await new Promise<void>((resolve, reject) => {
    listener.once('error', reject);
    listener.listen({ host, port }, () => {
      listener.off('error', reject);
      resolve();
    });
  }).catch((err: Error) => {
    throw new Error(`cannot serve ${what} on ${endpoint}: ${err.message}`, { cause: err });
  });
  return (listener.address() as { port: number }).port;
}
