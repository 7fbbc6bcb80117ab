/**
 * One OTLP metrics export, whatever carried it (gRPC or HTTP): the bearer
 * token checked, the request decoded and applied once to the shared streams
 * (streams.ts), the records handed to the pipeline, and only then an answer.
 * The transports (grpc.ts, http.ts) only move bytes and map the outcome to
 * their status codes, so both give the same limits, validation, accounting
 * and self-telemetry.
 */
import { timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Counter } from '@opentelemetry/api';
import type { ComponentSettings, FlowConsumer, LifecycleContext } from '../../pipeline/component.ts';
import { remainingMs } from '../../pipeline/lifecycle.ts';
import { decodeRequest, type ExportMetricsServiceRequest } from './proto.ts';
import type { FlowStreams, IngestStats } from './streams.ts';

/** What an export came to; each transport says it in its own status codes. */
export type ExportOutcome =
  | { kind: 'ok'; rejected: number; message: string }
  | { kind: 'invalid'; message: string }
  | { kind: 'consume_failed' }
  /** The receiver has stopped taking requests (shutting down): nothing applied; the sender retries elsewhere. */
  | { kind: 'unavailable' };

/** Running totals of what the receiver did, since start (both transports). */
export interface OtlpReceiverCounts extends IngestStats {
  requests: number;
  invalidRequests: number;
  unauthenticated: number;
  records: number;
  consumeFailures: number;
}

/** The request as it arrived: protobuf bytes, or OTLP/JSON already turned into a request (json.ts). */
export type ExportBody = { protobuf: Uint8Array } | { decode: () => ExportMetricsServiceRequest };

export class ExportRequests {
  readonly #settings: ComponentSettings;
  readonly #streams: FlowStreams;
  readonly #next: FlowConsumer;
  readonly #requests: Counter;
  readonly #points: Counter;
  readonly counts: OtlpReceiverCounts = { requests: 0, invalidRequests: 0, unauthenticated: 0, records: 0, consumeFailures: 0, points: 0, ignoredOther: 0, ignoredStale: 0, invalid: 0, overLimits: 0, refused: 0, resets: 0 };
  /** False once stop() was called: no request is applied from then on. */
  #open = true;
  /** Exports being applied, not answered yet; drained() waits until none is (`#idle` resolves). */
  #inFlight = 0;
  #idle = Promise.withResolvers<void>();

  constructor(settings: ComponentSettings, streams: FlowStreams, next: FlowConsumer) {
    this.#settings = settings;
    this.#streams = streams;
    this.#next = next;
    this.#requests = settings.meter.createCounter('zonetap.receiver.otlp.requests', { description: 'OTLP export requests by outcome (and transport)' });
    this.#points = settings.meter.createCounter('zonetap.receiver.otlp.points', { description: 'OTLP data points by outcome (accepted, ignored_other, stale, invalid, over_limits, refused)' });
  }

  /**
   * Checks a request's credentials first (every request passes here once):
   * `token` is the expected `Bearer <token>` (undefined: no auth required),
   * `authorization` what the request carried. False: answer UNAUTHENTICATED.
   */
  authorize(transport: Transport, token: Buffer | undefined, authorization: string | undefined): boolean {
    this.counts.requests++;
    if (authorized(token, authorization)) return true;
    this.counts.unauthenticated++;
    this.#requests.add(1, { component_id: this.#settings.id, transport, outcome: 'unauthenticated' });
    return false;
  }

  /** Counts an authorized request the transport refused before decoding it (too large, wrong media type, shutting down). */
  refused(transport: Transport, outcome: string): void {
    this.#requests.add(1, { component_id: this.#settings.id, transport, outcome });
  }

  /**
   * Decodes, applies and hands over one authorized export; resolves once the
   * pipeline has the records. After stop(), applies nothing: 'unavailable'.
   */
  async export(transport: Transport, body: ExportBody, peer: string): Promise<ExportOutcome> {
    if (!this.#open) {
      this.#requests.add(1, { component_id: this.#settings.id, transport, outcome: 'unavailable' });
      return { kind: 'unavailable' };
    }
    if (this.#inFlight++ === 0) this.#idle = Promise.withResolvers<void>();
    try {
      return await this.#apply(transport, body, peer);
    } finally {
      if (--this.#inFlight === 0) this.#idle.resolve();
    }
  }

  /**
   * No request is applied from now on: later ones are answered
   * 'unavailable', and their senders re-send them elsewhere. The receiver
   * calls it once its transports are closed, and a transport before it cuts
   * connections (a request on a cut connection cannot be answered).
   */
  stop(): void {
    this.#open = false;
  }

  /**
   * Waits until the requests being applied are in the pipeline, or the
   * deadline; resolves false when the deadline came first. The receiver's
   * shutdown ends with it: the service shuts the exporters down next, and a
   * request applied later would reach some outputs and not others
   * (Prometheus, still waiting for its last scrape, and not the closed flow
   * log or OTLP) while its sender was told OK.
   */
  async drained(context: LifecycleContext): Promise<boolean> {
    if (this.#inFlight === 0) return true;
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), remainingMs(context))));
    const done = await Promise.race([this.#idle.promise.then(() => true as const), deadline]);
    clearTimeout(timer);
    return done;
  }

  async #apply(transport: Transport, body: ExportBody, peer: string): Promise<ExportOutcome> {
    const component_id = this.#settings.id;
    let ingested;
    try {
      ingested = this.#streams.ingest('protobuf' in body ? decodeRequest(body.protobuf) : body.decode());
    } catch (err) {
      this.counts.invalidRequests++;
      this.#requests.add(1, { component_id, transport, outcome: 'invalid_argument' });
      this.#settings.logger.debug({ err: (err as Error).message, peer, transport }, 'malformed OTLP request refused');
      return { kind: 'invalid', message: `malformed ExportMetricsServiceRequest: ${(err as Error).message}` };
    }
    const { batch, stats, cumulativeAgents } = ingested;
    this.#count(stats);
    for (const agent of cumulativeAgents) {
      this.#settings.logger.warn(
        { agent, peer, transport },
        'agent sends cumulative totals: after a gateway restart or a failover its whole history is counted again; set temporality: delta on its otlp exporter',
      );
    }
    try {
      if (batch.records.length > 0) await this.#next.consume(batch);
    } catch (err) {
      // Not expected in a pipeline: the service wraps every consumer (pipeline/observed.ts) so a
      // downstream failure becomes a logged, counted drop there and consume() resolves. Only a
      // consumer used directly (tests, embedding) can reject; the deltas are then already taken
      // from the streams (a resend would not bring them back), so the data is lost: count it here.
      this.counts.consumeFailures++;
      this.#requests.add(1, { component_id, transport, outcome: 'consume_failed' });
      this.#settings.logger.warn({ err: (err as Error).message, records: batch.records.length }, 'pipeline refused flow records from OTLP');
      return { kind: 'consume_failed' };
    }
    this.counts.records += batch.records.length;
    this.#requests.add(1, { component_id, transport, outcome: 'ok' });
    const rejected = stats.invalid + stats.overLimits + stats.refused;
    return { kind: 'ok', rejected, message: rejected === 0 ? '' : rejectionMessage(stats) };
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
}

export type Transport = 'grpc' | 'http';

/** The `authorization` value a bearer token file asks for; throws when the file is empty. */
export function bearerToken(file: string): Buffer {
  const token = readFileSync(file, 'utf8').trim();
  if (!token) throw new Error(`bearer_token_file "${file}" is empty`);
  return Buffer.from(`Bearer ${token}`);
}

/** True when no token is required, or `authorization` is exactly `Bearer <token>` (compared in constant time). */
function authorized(token: Buffer | undefined, authorization: string | undefined): boolean {
  if (!token) return true;
  if (typeof authorization !== 'string') return false;
  const given = Buffer.from(authorization);
  return given.length === token.length && timingSafeEqual(given, token);
}

/** The partial success message: how many points were rejected, and why. */
function rejectionMessage(stats: IngestStats): string {
  const parts: string[] = [];
  if (stats.invalid) parts.push(`${stats.invalid} invalid (no time or temporality, a value that is not a finite number >= 0 or adds more than 2^53, a start after the time, or a time too far ahead of the gateway's clock)`);
  if (stats.overLimits) parts.push(`${stats.overLimits} with attributes over attribute_value_length_limit or attribute_count_limit`);
  if (stats.refused) parts.push(`${stats.refused} of new streams past max_streams or max_streams_memory_mib`);
  return `data points rejected: ${parts.join('; ')}`;
}
