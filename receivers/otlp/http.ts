/**
 * OTLP/HTTP transport of the `otlp` receiver (as the Collector's
 * `protocols.http`): POST `metrics_url_path` (/v1/metrics) with an
 * ExportMetricsServiceRequest as `application/x-protobuf` or
 * `application/json`, gzip-compressed or not. The export itself is
 * export.ts's, shared with gRPC; here only the OTLP/HTTP answers:
 *
 * - 200 with an ExportMetricsServiceResponse (a partial success when points
 *   were refused), in the request's encoding, once the pipeline has the records;
 * - 400 malformed request, 401 missing or wrong bearer token, 404 another
 *   path, 405 another method, 413 body over `max_request_body_size` (before
 *   or after decompression), 415 another media type or content encoding,
 *   500 the pipeline refused the records: a google.rpc.Status body saying why;
 * - 429 with Retry-After when `max_concurrent_requests` are being read or
 *   applied already (before this one's body is read), 503 with Retry-After
 *   while the receiver shuts down: the official exporters retry both.
 *
 * Connections are bounded as gRPC's: `max_connections` open (further ones
 * closed at once and counted), none idle past `idle_timeout` (nothing sent
 * at all, or no request), none holding a request longer than `read_timeout`
 * (slow or trickling senders), none past `max_connection_age` (closed after
 * their next answer, so agents come back to their zone's gateway).
 */
import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import { gunzip } from 'node:zlib';
import type { Counter } from '@opentelemetry/api';
import type { ComponentSettings, LifecycleContext } from '../../pipeline/component.ts';
import { remainingMs } from '../../pipeline/lifecycle.ts';
import type { HttpProtocolConfig } from './config.ts';
import { bearerToken, type ExportBody, type ExportRequests } from './export.ts';
import { listen } from './grpc.ts';
import { decodeJsonRequest } from './json.ts';
import { EMPTY_RESPONSE, encodeStatus, partialSuccessResponse } from './proto.ts';

const PROTOBUF = 'application/x-protobuf';
const JSON_TYPE = 'application/json';
type Encoding = typeof PROTOBUF | typeof JSON_TYPE;

/** gRPC status codes carried in google.rpc.Status bodies, as the Collector writes them. */
const CODE = { invalidArgument: 3, resourceExhausted: 8, internal: 13, unavailable: 14, unauthenticated: 16, unimplemented: 12 } as const;

const SHUTTING_DOWN = 'the gateway is shutting down; retry';

/** Seconds a sender is asked to wait before retrying (429: too many requests at once; 503: shutting down). */
const RETRY_AFTER_SECONDS = 1;

/** An HTTP error: status, google.rpc.Status code and message, and whether the connection must close (body left unread). */
class HttpRefusal extends Error {
  readonly status: number;
  readonly code: number;
  /** The requests counter's outcome; '' when export.ts counted the request already. */
  readonly outcome: string;
  readonly close: boolean;

  constructor(status: number, code: number, message: string, outcome: string, close = false) {
    super(message);
    this.status = status;
    this.code = code;
    this.outcome = outcome;
    this.close = close;
  }
}

export class HttpTransport {
  readonly #settings: ComponentSettings;
  readonly #config: HttpProtocolConfig;
  readonly #requests: ExportRequests;
  readonly #connectionsRefused: Counter;
  readonly sockets = new Set<Socket>();
  readonly #openedAt = new WeakMap<Socket, number>();
  #server: Server | undefined;
  #token: Buffer | undefined;
  #closing = false;
  /** Requests past the route and auth checks, not answered yet (max_concurrent_requests). */
  #inFlight = 0;
  port = 0;

  constructor(settings: ComponentSettings, config: HttpProtocolConfig, requests: ExportRequests, connectionsRefused: Counter) {
    this.#settings = settings;
    this.#config = config;
    this.#requests = requests;
    this.#connectionsRefused = connectionsRefused;
  }

  async start(): Promise<void> {
    const c = this.#config;
    if (c.auth) this.#token = bearerToken(c.auth.bearer_token_file);
    const options = {
      // Node checks read_timeout (requestTimeout, headersTimeout) on this period; keep it a fraction of the timeout.
      connectionsCheckingInterval: Math.max(100, Math.min(30_000, c.read_timeout / 4)),
      requestTimeout: c.read_timeout,
      headersTimeout: c.read_timeout,
      keepAliveTimeout: c.idle_timeout,
    };
    const handler = (req: IncomingMessage, res: ServerResponse) => void this.#handle(req, res);
    const server = c.tls
      ? createHttpsServer(
          {
            ...options,
            cert: readFileSync(c.tls.cert_file),
            key: readFileSync(c.tls.key_file),
            ...(c.tls.client_ca_file ? { ca: readFileSync(c.tls.client_ca_file), requestCert: true, rejectUnauthorized: true } : {}),
          },
          handler,
        )
      : createHttpServer(options, handler);
    // A socket with no byte for idle_timeout is closed: one that never sends a request, or idles between requests.
    server.timeout = c.idle_timeout;
    server.maxConnections = c.max_connections;
    server.on('drop', () => this.#connectionsRefused.add(1, { component_id: this.#settings.id, transport: 'http' }));
    server.on('connection', (socket: Socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
    server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
      // Bad request lines or headers, header and request timeouts: answered by Node's defaults, never thrown.
      this.#settings.logger.debug({ err: err.message, code: err.code }, 'OTLP/HTTP client error');
      if (!socket.writable || err.code === 'ECONNRESET') return void socket.destroy();
      const timedOut = err.code === 'ERR_HTTP_REQUEST_TIMEOUT' || err.code === 'ERR_HTTP_HEADERS_TIMEOUT';
      socket.end(timedOut ? 'HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n\r\n' : 'HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
    });
    server.on('error', (err) => this.#settings.logger.error({ err }, 'OTLP/HTTP listener error'));
    this.#server = server;
    this.port = await listen(server, c.endpoint, 'OTLP/HTTP');
    this.#settings.logger.info({ endpoint: c.endpoint, port: this.port, path: c.metrics_url_path, tls: c.tls !== undefined, auth: c.auth !== undefined }, 'OTLP/HTTP receiver listening');
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // Age from the connection's first request (with TLS, the request's socket is not the accepted one).
    if (!this.#openedAt.has(req.socket)) this.#openedAt.set(req.socket, Date.now());
    let encoding: Encoding = PROTOBUF;
    try {
      this.#checkRoute(req);
      if (!this.#requests.authorize('http', this.#token, req.headers.authorization)) {
        res.setHeader('WWW-Authenticate', 'Bearer');
        throw new HttpRefusal(401, CODE.unauthenticated, 'missing or wrong bearer token', '', true);
      }
      encoding = mediaType(req);
      if (this.#inFlight >= this.#config.max_concurrent_requests) {
        throw new HttpRefusal(429, CODE.resourceExhausted, `${this.#inFlight} requests in flight (max_concurrent_requests); retry`, 'too_many_requests', true);
      }
      this.#inFlight++;
      try {
        const body = await this.#readBody(req);
        const request: ExportBody = encoding === PROTOBUF ? { protobuf: body } : { decode: () => decodeJsonRequest(body.toString('utf8')) };
        const outcome = await this.#requests.export('http', request, `${req.socket.remoteAddress}:${req.socket.remotePort}`);
        if (outcome.kind === 'invalid') throw new HttpRefusal(400, CODE.invalidArgument, outcome.message, '');
        if (outcome.kind === 'consume_failed') throw new HttpRefusal(500, CODE.internal, 'pipeline refused the records', '');
        if (outcome.kind === 'unavailable') throw new HttpRefusal(503, CODE.unavailable, SHUTTING_DOWN, '', true);
        this.#send(res, 200, encoding, encodeResponse(encoding, outcome.rejected, outcome.message));
      } finally {
        this.#inFlight--;
      }
    } catch (err) {
      if (!(err instanceof HttpRefusal)) {
        this.#settings.logger.error({ err }, 'OTLP/HTTP request failed unexpectedly');
        err = new HttpRefusal(500, CODE.internal, 'internal error', 'internal', true);
      }
      const refusal = err as HttpRefusal;
      if (refusal.outcome) this.#requests.refused('http', refusal.outcome);
      if (refusal.close) res.setHeader('Connection', 'close');
      if (refusal.status === 503 || refusal.status === 429) res.setHeader('Retry-After', String(RETRY_AFTER_SECONDS));
      if (refusal.status === 405) res.setHeader('Allow', 'POST');
      this.#send(res, refusal.status, encoding, encodeError(encoding, refusal.code, refusal.message));
    }
  }

  /** Throws the answer for requests that are not exports, or that come while shutting down. */
  #checkRoute(req: IncomingMessage): void {
    if (this.#closing) throw new HttpRefusal(503, CODE.unavailable, SHUTTING_DOWN, 'unavailable', true);
    const path = (req.url ?? '').split('?', 1)[0];
    if (path !== this.#config.metrics_url_path) throw new HttpRefusal(404, CODE.unimplemented, `no OTLP endpoint at ${path?.slice(0, 100)}: metrics are exported to ${this.#config.metrics_url_path}`, 'not_found', true);
    if (req.method !== 'POST') throw new HttpRefusal(405, CODE.unimplemented, `method ${req.method} not allowed: exports are POSTed`, 'method_not_allowed', true);
  }

  /** The body, decompressed, within max_request_body_size before and after decompression. */
  async #readBody(req: IncomingMessage): Promise<Buffer> {
    const limit = this.#config.max_request_body_size;
    const contentEncoding = (req.headers['content-encoding'] ?? 'identity').trim().toLowerCase();
    if (contentEncoding !== 'gzip' && contentEncoding !== 'identity') {
      throw new HttpRefusal(415, CODE.invalidArgument, `unsupported Content-Encoding "${contentEncoding.slice(0, 40)}": expected gzip or none`, 'unsupported_media_type', true);
    }
    const tooLarge = (when = '') => new HttpRefusal(413, CODE.resourceExhausted, `request body${when} is larger than max_request_body_size (${limit} bytes)`, 'too_large', true);
    if (Number(req.headers['content-length'] ?? 0) > limit) throw tooLarge();
    const body = await new Promise<Buffer>((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      const onData = (chunk: Buffer) => {
        size += chunk.length;
        if (size <= limit) return void chunks.push(chunk);
        // Stop reading (the connection closes after the answer) but keep the socket to answer on.
        req.off('data', onData);
        req.pause();
        reject(tooLarge());
      };
      req.on('data', onData);
      req.once('end', () => resolve(Buffer.concat(chunks, size)));
      // A sender that went away (or was cut by read_timeout): nobody to answer, counted all the same.
      req.once('error', (err) => reject(new HttpRefusal(400, CODE.invalidArgument, `request body: ${err.message}`, 'aborted', true)));
    });
    if (contentEncoding === 'identity') return body;
    return new Promise((resolve, reject) => {
      gunzip(body, { maxOutputLength: limit }, (err, out) => {
        if (!err) resolve(out);
        else if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') reject(tooLarge(' after decompression'));
        else reject(new HttpRefusal(400, CODE.invalidArgument, `body is not valid gzip: ${err.message}`, 'invalid_argument'));
      });
    });
  }

  #send(res: ServerResponse, status: number, encoding: Encoding, body: Buffer): void {
    if (res.headersSent || res.destroyed) return;
    const opened = this.#openedAt.get(res.req.socket);
    if (this.#closing || (opened !== undefined && Date.now() - opened > this.#config.max_connection_age)) res.setHeader('Connection', 'close');
    res.writeHead(status, { 'Content-Type': encoding, 'Content-Length': body.length });
    res.end(body);
  }

  async shutdown(context: LifecycleContext): Promise<void> {
    const server = this.#server;
    if (!server) return;
    this.#server = undefined;
    this.#closing = true;
    // No new connections; idle ones close now, busy ones after their answer (Connection: close);
    // requests that still come on them get 503 with Retry-After.
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeIdleConnections();
    let force: NodeJS.Timeout | undefined;
    await Promise.race([
      closed,
      new Promise<void>((resolve) => (force = setTimeout(resolve, Math.min(5000, remainingMs(context) / 2)))),
    ]);
    clearTimeout(force);
    // Requests on connections still open are cut now and cannot be answered: apply none of them.
    if (this.sockets.size > 0) this.#requests.stop();
    server.closeAllConnections();
    for (const socket of this.sockets) socket.destroy();
  }
}

/** The request's encoding from its Content-Type (parameters such as charset ignored); 415 for any other. */
function mediaType(req: IncomingMessage): Encoding {
  const type = (req.headers['content-type'] ?? '').split(';', 1)[0]!.trim().toLowerCase();
  if (type === PROTOBUF || type === JSON_TYPE) return type;
  throw new HttpRefusal(415, CODE.invalidArgument, `unsupported Content-Type "${type.slice(0, 60)}": expected ${PROTOBUF} or ${JSON_TYPE}`, 'unsupported_media_type', true);
}

/** ExportMetricsServiceResponse in the request's encoding (JSON: int64 as a string, as the protobuf JSON mapping writes it). */
function encodeResponse(encoding: Encoding, rejected: number, message: string): Buffer {
  if (encoding === PROTOBUF) return rejected === 0 ? EMPTY_RESPONSE : partialSuccessResponse(rejected, message);
  return Buffer.from(JSON.stringify(rejected === 0 ? {} : { partialSuccess: { rejectedDataPoints: String(rejected), errorMessage: message } }));
}

/** google.rpc.Status in the request's encoding. */
function encodeError(encoding: Encoding, code: number, message: string): Buffer {
  return encoding === PROTOBUF ? encodeStatus(code, message) : Buffer.from(JSON.stringify({ code, message }));
}
