/**
 * The HTTP server of /metrics, with limits so that a slow, idle or hostile
 * client cannot hold file descriptors: Node's defaults let a connection that
 * never sends a byte, or never reads its response, stay open forever, and
 * accept any number of connections.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Exposition } from './shared-exposition.ts';

/** Limits of the /metrics server (README "Connections"). */
export interface MetricsServerLimits {
  /** Longest wait for a request's headers (a client trickling them byte by byte is cut off). */
  headersTimeoutMs: number;
  /** Longest wait for a whole request. */
  requestTimeoutMs: number;
  /** How long a kept-alive connection may wait idle for its next request. */
  keepAliveTimeoutMs: number;
  /**
   * A connection with no byte sent or received for this long is closed: one
   * that never sends a request, or a client that stops reading its response.
   */
  idleTimeoutMs: number;
  /**
   * Longest time to send a response, once rendered. A client that reads a
   * byte now and then is never idle, yet would hold its connection for hours
   * on a large exposition.
   */
  responseTimeoutMs: number;
  /** How often timeouts are checked (Node checks headers and request timeouts on this tick). */
  checkIntervalMs: number;
  /** Open connections at most; further ones are closed as soon as they are accepted. */
  maxConnections: number;
}

/**
 * Defaults: Prometheus sends its request at once and reads the answer as it
 * comes, and its scrape timeout is 10 s by default; a render is shared and
 * answered in well under that (bench/prometheus.bench.ts).
 */
export const METRICS_SERVER_LIMITS: Readonly<Omit<MetricsServerLimits, 'maxConnections'>> = Object.freeze({
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 10_000,
  keepAliveTimeoutMs: 5_000,
  idleTimeoutMs: 30_000,
  responseTimeoutMs: 120_000,
  checkIntervalMs: 1_000,
});

export function createMetricsServer(limits: MetricsServerLimits, handle: (req: IncomingMessage, res: ServerResponse) => void): Server {
  const server = createServer(
    {
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: limits.requestTimeoutMs,
      keepAliveTimeout: limits.keepAliveTimeoutMs,
      connectionsCheckingInterval: limits.checkIntervalMs,
    },
    handle,
  );
  // Without a 'timeout' listener, Node destroys a socket idle for this long.
  server.setTimeout(limits.idleTimeoutMs);
  server.maxConnections = limits.maxConnections;
  return server;
}

/**
 * Answers 200 with the exposition (headers only for HEAD). The chunks are
 * queued at once, without waiting for 'drain': they are shared with other
 * scrapes, so queueing costs no memory of its own. A client that has not
 * taken the whole body within `timeoutMs` is cut off.
 */
export function sendExposition(req: IncomingMessage, res: ServerResponse, exposition: Exposition, contentType: string, timeoutMs: number): void {
  const deadline = setTimeout(() => res.destroy(), timeoutMs);
  res.once('close', () => clearTimeout(deadline));
  res.statusCode = 200;
  res.setHeader('content-type', contentType);
  res.setHeader('content-length', exposition.bytes);
  if (req.method !== 'HEAD') for (const chunk of exposition.chunks) res.write(chunk);
  res.end();
}
