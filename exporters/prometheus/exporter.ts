/**
 * The `prometheus` exporter: keeps cumulative flow totals in zonetap's own
 * stores (with expiry and a cardinality cap) and serves them on /metrics,
 * rendered from the stores in slices and shared between scrapes. New series
 * start at 0 for every scraper, and a clean shutdown waits until the
 * scrapers have been served the last counts (scrapers.ts).
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { BatchObservableCallback, Observable } from '@opentelemetry/api';
import { READ_ONLY } from '../../pipeline/component.ts';
import type { ComponentSettings, Exporter, LifecycleContext } from '../../pipeline/component.ts';
import type { FlowBatch, FlowRecord } from '../../pipeline/flow.ts';
import { FlowStore } from '../series/index.ts';
import { parseEndpoint } from '../../pipeline/schema.ts';
import type { PrometheusExporterConfig } from './config.ts';
import { ExpositionRenderer, type CounterFamily } from './exposition.ts';
import { KUBEZONNET_HELP, KUBEZONNET_METRIC, kubezonnetSource } from './kubezonnet.ts';
import { FlowLabeler } from './labels.ts';
import { createMetricsServer, METRICS_SERVER_LIMITS, sendExposition, type MetricsServerLimits } from './server.ts';
import { Scrapers } from './scrapers.ts';
import { ADVICE_PATH, serveAdvice } from './advice-endpoint.ts';
import { SharedExposition } from './shared-exposition.ts';

/** Labels of the series that collects records past max_series (as the OpenTelemetry SDK names it). */
export const OVERFLOW_LABELS = Object.freeze({ otel_metric_overflow: 'true' });
export const METRICS_PATH = '/metrics';
/** The content type of text format 0.0.4, which every Prometheus version reads. */
const CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

export interface PrometheusExporterOptions {
  /** The clock (ms since epoch); tests pass their own. */
  now?: () => number;
  /** Server timeouts other than the defaults (tests); `max_connections` comes from the config. */
  serverLimits?: Partial<Omit<MetricsServerLimits, 'maxConnections'>>;
  /** Samples per render slice (tests). */
  sliceSamples?: number;
}

/** The counters served on /metrics: flows' bytes, packets and cost, and kubezonnet's metric when its store exists. */
export function flowFamilies(flows: FlowStore, kubezonnet: FlowStore | undefined): CounterFamily[] {
  const families: CounterFamily[] = [
    { name: 'zonetap_network_flow_bytes_total', help: 'IP bytes sent (headers included), by source and destination.', store: flows, value: (s) => s.bytes },
    { name: 'zonetap_network_flow_packets_total', help: 'IP packets sent, by source and destination.', store: flows, value: (s) => s.packets },
    { name: 'zonetap_network_flow_cost_usd_total', help: 'Cost of the bytes sent in US dollars, as priced by the cost processor.', store: flows, value: (s) => s.costUsd },
  ];
  if (kubezonnet) families.push({ name: KUBEZONNET_METRIC, help: KUBEZONNET_HELP, store: kubezonnet, value: (s) => s.bytes });
  return families;
}

export class PrometheusFlowExporter implements Exporter {
  readonly capabilities = READ_ONLY;
  readonly #settings: ComponentSettings;
  readonly #config: PrometheusExporterConfig;
  readonly #now: () => number;
  readonly #labeler: FlowLabeler;
  /** Label sets of zonetap_network_flow_*. */
  readonly flows: FlowStore;
  /** {namespace, pod} of pod_cross_zone_network_traffic_bytes_total; undefined when kubezonnet_compat is off. */
  readonly kubezonnet: FlowStore | undefined;
  readonly #renderer: ExpositionRenderer;
  readonly #exposition: SharedExposition;
  readonly #server: Server;
  readonly #responseTimeoutMs: number;
  readonly #telemetry: { callback: BatchObservableCallback; observables: Observable[] };
  readonly #scrapers: Scrapers;
  /** The generation of each render, by its chunks (what SharedExposition hands back). */
  readonly #generations = new WeakMap<readonly Buffer[], number>();
  #lastExpiry = 0;
  #overflowWarned = false;

  constructor(settings: ComponentSettings, config: PrometheusExporterConfig, options: PrometheusExporterOptions = {}) {
    this.#settings = settings;
    this.#config = Object.freeze({ ...config });
    const now = options.now ?? Date.now;
    this.#now = now;
    this.#labeler = new FlowLabeler(config);
    const storeOptions = { ttlMs: config.series_ttl, maxSeries: config.max_series, overflowAttributes: OVERFLOW_LABELS };
    this.flows = new FlowStore(storeOptions);
    this.kubezonnet = config.kubezonnet_compat ? new FlowStore(storeOptions) : undefined;

    this.#renderer = new ExpositionRenderer(flowFamilies(this.flows, this.kubezonnet), options.sliceSamples);
    this.#scrapers = new Scrapers(now);
    this.#exposition = new SharedExposition(
      async () => {
        this.#expire(now());
        const gate = this.#scrapers.beginRender();
        try {
          const chunks = await this.#renderer.render(config.new_series_at_zero ? gate.held : undefined);
          this.#generations.set(chunks, gate.generation);
          return chunks;
        } finally {
          gate.end();
        }
      },
      { maxAgeMs: config.exposition_max_age, now },
    );
    const limits = { ...METRICS_SERVER_LIMITS, ...options.serverLimits, maxConnections: config.max_connections };
    this.#responseTimeoutMs = limits.responseTimeoutMs;
    this.#server = createMetricsServer(limits, (req, res) => this.#handle(req, res));
    this.#telemetry = this.#registerTelemetry();
  }

  async start(): Promise<void> {
    const { host, port } = parseEndpoint(this.#config.endpoint)!;
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen({ host, port }, () => {
        this.#server.off('error', reject);
        resolve();
      });
    }).catch((err: Error) => {
      throw new Error(`cannot serve /metrics on ${this.#config.endpoint}: ${err.message}`, { cause: err });
    });
    this.#server.on('error', (err) => this.#settings.logger.error({ err }, 'metrics server error'));
    this.#settings.logger.info({ endpoint: this.address }, 'serving Prometheus metrics');
  }

  /** Where /metrics is served, once started (`host:port`, the real port when configured with 0). */
  get address(): string | undefined {
    const a = this.#server.address() as AddressInfo | null;
    if (!a) return undefined;
    return a.family === 'IPv6' ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`;
  }

  async consume(batch: FlowBatch): Promise<void> {
    const now = this.#now();
    let overflowed = false;
    const labeler = this.#labeler;
    const labelsOf = (record: FlowRecord) => labeler.labels(record);
    for (const record of batch.records) {
      if (this.flows.addKeyed(labeler.key(record), record, labelsOf, record.bytes, record.packets, record.costUsd, now) === 'overflow') overflowed = true;
      if (this.kubezonnet) {
        const source = kubezonnetSource(record);
        if (source && this.kubezonnet.add(source, record.bytes, record.packets, undefined, now, `${source.namespace}/${source.pod}`) === 'overflow') overflowed = true;
      }
    }
    if (batch.records.length > 0) this.#scrapers.changed();
    if (overflowed && !this.#overflowWarned) {
      this.#overflowWarned = true;
      this.#settings.logger.warn({ max_series: this.#config.max_series }, 'max_series reached: new label sets are summed into the series labelled otel_metric_overflow="true"');
    }
    // Without scrapes, memory must stay bounded too: expire from consume() now and then.
    if (now - this.#lastExpiry >= Math.min(this.#config.series_ttl / 4, 10_000)) this.#expire(now);
  }

  /**
   * Waits (within `context`'s deadline) until every regular scraper has been
   * served the last counts, then closes. Without a context (outside a
   * service) it does not wait.
   */
  async shutdown(context?: LifecycleContext): Promise<void> {
    if (context && this.#server.listening) {
      // The counters die with the process: let Prometheus see the last changes first.
      const outcome = await this.#scrapers.awaitFinalScrapes(context.deadline);
      if (outcome === 'scraper_gone' || outcome === 'deadline') {
        this.#settings.logger.warn({ outcome }, 'stopping before a scrape showed the last flows: Prometheus misses what came since its last scrape');
      }
    }
    this.#settings.meter.removeBatchObservableCallback(this.#telemetry.callback, this.#telemetry.observables);
    if (this.#server.listening) {
      const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
      this.#server.closeAllConnections();
      await closed;
    }
    this.flows.clear();
    this.kubezonnet?.clear();
    this.#exposition.clear();
  }

  #expire(now: number): void {
    this.#lastExpiry = now;
    const removed = this.flows.expire(now) + (this.kubezonnet?.expire(now) ?? 0);
    if (removed > 0) this.#settings.logger.debug({ removed }, 'expired series');
    if (this.flows.overflowSeries === undefined && this.kubezonnet?.overflowSeries === undefined) this.#overflowWarned = false;
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    const path = (req.url ?? '/').split('?', 1)[0];
    if (path !== METRICS_PATH && path !== ADVICE_PATH) {
      res.statusCode = 404;
      res.end(`zonetap serves Prometheus metrics on ${METRICS_PATH} and advice on ${ADVICE_PATH}\n`);
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.statusCode = 405;
      res.setHeader('allow', 'GET, HEAD');
      res.end();
      return;
    }
    if (path === ADVICE_PATH) return serveAdvice(req, res, this.flows.series(), this.#now());
    // A scraper is its address and User-Agent: the two servers of an HA pair are two.
    const client = `${req.socket.remoteAddress ?? ''} ${req.headers['user-agent'] ?? ''}`;
    this.#exposition.get().then(
      (exposition) => {
        const generation = this.#generations.get(exposition.chunks) ?? 0;
        res.once('finish', () => this.#scrapers.served(client, generation));
        sendExposition(req, res, exposition, CONTENT_TYPE, this.#responseTimeoutMs);
      },
      (err: Error) => {
        this.#settings.logger.error({ err }, 'cannot render /metrics');
        res.statusCode = 500;
        res.end(`# cannot render metrics: ${err.message}\n`);
      },
    );
  }

  /** Renders of /metrics so far (scrapes that shared a render or got a recent one are not counted). */
  get renders(): number {
    return this.#renderer.renders;
  }

  /** Render slices so far; the event loop runs between two slices of a render. */
  get renderSlices(): number {
    return this.#renderer.slices;
  }

  #registerTelemetry() {
    const meter = this.#settings.meter;
    const series = meter.createObservableGauge('zonetap.exporter.series', { description: 'Label sets held for export, per metric family.' });
    const overflow = meter.createObservableCounter('zonetap.exporter.series.overflow', { description: 'Records summed into the overflow series because max_series was reached.' });
    const expired = meter.createObservableCounter('zonetap.exporter.series.expired', { description: 'Label sets removed after series_ttl without flows.' });
    const stores = [['flow', this.flows], ['kubezonnet', this.kubezonnet]] as const;
    const callback: BatchObservableCallback = (result) => {
      for (const [family, store] of stores) {
        if (!store) continue;
        const attributes = { component_id: this.#settings.id, family };
        result.observe(series, store.size + (store.overflowSeries ? 1 : 0), attributes);
        result.observe(overflow, store.overflowRecords, attributes);
        result.observe(expired, store.expiredSeries, attributes);
      }
    };
    const observables = [series, overflow, expired];
    meter.addBatchObservableCallback(callback, observables);
    return { callback, observables };
  }
}
