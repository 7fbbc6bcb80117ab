/**
 * The telemetry HTTP server on service.telemetry.metrics.endpoint:
 * GET /metrics (Prometheus text), /healthz (200 while the process runs),
 * /readyz (200 once every component has started and none reports `ready === false`,
 * e.g. k8sattributes not yet synced with the Kubernetes API; 503 otherwise, and
 * from the start of shutdown), /startedz (200 once every component has started,
 * degraded or not; 503 before and from the start of shutdown).
 */
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseEndpoint } from '../schema.ts';

export interface TelemetryRoutes {
  metrics(request: IncomingMessage, response: ServerResponse): void;
  ready(): boolean;
  started(): boolean;
}

function reply(response: ServerResponse, status: number, body: string): void {
  response.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' });
  response.end(`${body}\n`);
}

export class TelemetryServer {
  readonly #server: Server;
  readonly #endpoint: string;

  constructor(endpoint: string, routes: TelemetryRoutes) {
    this.#endpoint = endpoint;
    this.#server = createServer((request, response) => {
      const path = (request.url ?? '/').split('?')[0];
      if (request.method !== 'GET' && request.method !== 'HEAD') return reply(response, 405, 'method not allowed');
      switch (path) {
        case '/metrics':
          return routes.metrics(request, response);
        case '/healthz':
          return reply(response, 200, 'ok');
        case '/readyz':
          return routes.ready() ? reply(response, 200, 'ready') : reply(response, 503, 'not ready');
        case '/startedz':
          return routes.started() ? reply(response, 200, 'started') : reply(response, 503, 'starting');
        default:
          return reply(response, 404, 'not found: try /metrics, /healthz, /readyz or /startedz');
      }
    });
    this.#server.keepAliveTimeout = 5_000;
  }

  /** Listens; resolves with the bound address (port 0 picks a free port). */
  async listen(): Promise<{ host: string; port: number }> {
    const { host, port } = parseEndpoint(this.#endpoint)!;
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error) => reject(err);
      this.#server.once('error', onError);
      this.#server.listen({ host, port }, () => {
        this.#server.off('error', onError);
        resolve();
      });
    });
    const a = this.#server.address() as AddressInfo;
    return { host: a.address, port: a.port };
  }

  async close(): Promise<void> {
    if (!this.#server.listening) return;
    await new Promise<void>((resolve) => {
      this.#server.close(() => resolve());
      this.#server.closeAllConnections();
    });
  }
}
