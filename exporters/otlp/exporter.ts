/**
 * The `otlp` exporter: adds every batch to zonetap's own totals and, every
 * `interval`, sends them to an OTLP backend (normally the zonetap gateway)
 * over gRPC or HTTP with the official OTLPMetricExporter (transport.ts): cumulative totals, or (to a
 * gateway) what was counted since the last acknowledged export. Nothing is
 * queued: while the backend is down the store is the only memory used, and
 * the next successful export carries everything, so an outage loses nothing.
 */
import type { Counter } from '@opentelemetry/api';
import type { PushMetricExporter } from '@opentelemetry/sdk-metrics';
import type { Resource } from '@opentelemetry/resources';
import { READ_ONLY } from '../../pipeline/component.ts';
import type { ComponentSettings, Exporter, LifecycleContext } from '../../pipeline/component.ts';
import type { FlowBatch } from '../../pipeline/flow.ts';
import { remainingMs } from '../../pipeline/lifecycle.ts';
import type { OtlpExporterConfig } from './config.ts';
import { agentResource, flowResourceMetrics } from './metrics.ts';
import { FlowTotals, type FlowPoint } from './store.ts';
import { createMetricExporter } from './transport.ts';

/**
 * Part of the shutdown deadline kept for closing the gRPC channel (or HTTP connection) after the
 * final flush: the flush retries until only this much is left (at most 1 s).
 */
const CLOSE_SHARE = 0.1;
/** Waits between flush attempts: doubled from the first, capped at the second. */
const FLUSH_RETRY_MS = [100, 1000] as const;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Resolves with `promise`'s value, or with `fallback` after `ms` if it is still pending. */
function within<T>(promise: Promise<T>, ms: number, fallback: T): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<T>((resolve) => (timer = setTimeout(() => resolve(fallback), Math.max(0, ms))));
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Wall-clock time (ms) that never goes back, so a stepped system clock cannot
 * make an export look older than the one before it: `now()` never decreases;
 * `exportTime()` is later than every time given before. An acknowledged
 * export's time starts the next delta window, so it must be after the start
 * of the window it closes (a series first seen in the same millisecond), and
 * the gateway tells a re-sent window from the one it applied by its time.
 */
export class ExportClock {
  #last = 0;

  now(): number {
    this.#last = Math.max(this.#last, Date.now());
    return this.#last;
  }

  exportTime(): number {
    this.#last = Math.max(Date.now(), this.#last + 1);
    return this.#last;
  }
}

export class OtlpExporter implements Exporter {
  readonly capabilities = READ_ONLY;
  readonly #settings: ComponentSettings;
  readonly #config: OtlpExporterConfig;
  readonly #totals: FlowTotals;
  readonly #clock = new ExportClock();
  readonly #resource: Resource;
  readonly #exports: Counter;
  #exporter: PushMetricExporter | undefined;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<boolean> | undefined;
  #consecutiveFailures = 0;
  #stopped = false;

  constructor(settings: ComponentSettings, config: OtlpExporterConfig) {
    this.#settings = settings;
    this.#config = Object.freeze(config);
    this.#totals = new FlowTotals({ ttlMs: config.series_ttl, maxSeries: config.max_series, now: () => this.#clock.now() });
    this.#resource = agentResource();
    const attrs = { component_id: settings.id };
    // Failed exports are not counted here: settings.reportSendFailure() counts them in the
    // pipeline's zonetap_exporter_send_failed_total, the one metric for export failures.
    this.#exports = settings.meter.createCounter('zonetap.exporter.export.requests', { description: 'Export requests sent successfully' });
    settings.meter
      .createObservableGauge('zonetap.exporter.series', { description: 'Flow series held by the exporter' })
      .addCallback((r) => r.observe(this.#totals.size, attrs));
    settings.meter
      .createObservableCounter('zonetap.exporter.series.overflow', { description: 'Records folded into the overflow series because max_series was reached' })
      .addCallback((r) => r.observe(this.#totals.overflowRecords, attrs));
  }

  /** Number of flow series currently held (for tests and self-telemetry). */
  get seriesCount(): number {
    return this.#totals.size;
  }

  async start(): Promise<void> {
    this.#exporter = await createMetricExporter(this.#config);
    this.#schedule(this.#config.interval);
  }

  /** Adds the batch to the totals; rejects once shutdown began (the final flush would not carry it: say so rather than drop it silently). */
  async consume(batch: FlowBatch): Promise<void> {
    if (this.#stopped) throw new Error(`otlp exporter "${this.#settings.id}" is shut down: ${batch.records.length} records not exported`);
    this.#totals.add(batch);
  }

  /** Exports the current totals now (also used by tests); resolves true when every request succeeded. */
  exportNow(): Promise<boolean> {
    // One export at a time: a second caller waits for the running one, then sends fresh totals.
    const run = (this.#running ?? Promise.resolve(true)).then(() =>
      this.#exportTotals().catch((err: unknown) => {
        // Never crash after start: an unexpected error is logged and counted like a failed export.
        this.#settings.reportSendFailure();
        this.#settings.logger.error({ err }, 'OTLP export failed unexpectedly');
        return false;
      }),
    );
    this.#running = run;
    return run;
  }

  #schedule(delayMs: number): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => void this.#tick(), delayMs);
  }

  async #tick(): Promise<void> {
    const ok = await this.exportNow();
    if (ok) {
      this.#consecutiveFailures = 0;
      this.#schedule(this.#config.interval);
      return;
    }
    this.#consecutiveFailures++;
    const { initial_interval, max_interval } = this.#config.retry_on_failure;
    const backoff = Math.min(max_interval, initial_interval * 2 ** (this.#consecutiveFailures - 1));
    this.#schedule(backoff * (0.8 + Math.random() * 0.4));
  }

  async #exportTotals(): Promise<boolean> {
    const exporter = this.#exporter;
    if (!exporter) return false;
    const points = this.#totals.snapshot(this.#config.temporality);
    // One time for every request of this export: it becomes the start of the next delta window.
    const now = this.#clock.exportTime();
    const perRequest = this.#config.max_series_per_request;
    for (let i = 0; i < points.length; i += perRequest) {
      const chunk = points.slice(i, i + perRequest);
      const error = await this.#send(exporter, chunk, now);
      if (error) {
        // Sent in the background, so the service never sees it fail: report it ourselves.
        this.#settings.reportSendFailure();
        const log = this.#consecutiveFailures === 0 ? 'warn' : 'debug';
        this.#settings.logger[log]({ err: error.message, endpoint: this.#config.endpoint, series: points.length }, 'OTLP export failed; retrying with backoff (counts are kept, nothing is lost)');
        return false;
      }
      this.#exports.add(1, { component_id: this.#settings.id });
      this.#totals.acknowledge(chunk, now);
    }
    if (this.#consecutiveFailures > 0 && points.length > 0) this.#settings.logger.info({ endpoint: this.#config.endpoint }, 'OTLP export recovered');
    return true;
  }

  #send(exporter: PushMetricExporter, chunk: FlowPoint[], now: number): Promise<Error | undefined> {
    const metrics = flowResourceMetrics(this.#resource, chunk, now, this.#config.temporality);
    return new Promise((resolve) => {
      exporter.export(metrics, (result) => resolve(result.code === 0 ? undefined : (result.error ?? new Error('export failed'))));
    });
  }

  async shutdown(context: LifecycleContext): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    const exporter = this.#exporter;
    if (!exporter) return;
    // Flush until only the closing share of the deadline is left; then close within the rest.
    const closing = Math.min(1000, remainingMs(context) * CLOSE_SHARE);
    await this.#flush(context.deadline - closing);
    this.#exporter = undefined;
    // An attempt still in flight past the budget must not hold the service's shutdown: the official
    // OTLP/HTTP exporter's shutdown waits for its own retries (503 with Retry-After from a gateway
    // that is stopping too). Ending on the deadline is in time: the service waits a little longer
    // (SHUTDOWN_GRACE_MS in pipeline/lifecycle.ts).
    await within(exporter.shutdown(), remainingMs(context), undefined);
  }

  /**
   * Flush: export the totals one last time, so a clean stop delivers
   * everything counted. A gateway that is briefly unreachable (restarting too,
   * say) is retried with a short backoff until `deadline` (ms since the
   * epoch); each attempt is still bounded by `timeout`, and by what is left.
   */
  async #flush(deadline: number): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      if (await within(this.exportNow(), deadline - Date.now(), false)) return;
      const wait = Math.min(FLUSH_RETRY_MS[1], FLUSH_RETRY_MS[0] * 2 ** attempt);
      if (Date.now() + wait >= deadline) {
        this.#settings.logger.warn({ endpoint: this.#config.endpoint, attempts: attempt + 1 }, 'OTLP final flush at shutdown failed; counts since the last acknowledged export are lost');
        return;
      }
      await sleep(wait);
    }
  }
}
