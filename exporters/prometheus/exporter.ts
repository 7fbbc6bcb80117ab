/**
 * The `prometheus` exporter: keeps cumulative flow totals in zonetap's own
 * stores (with expiry and a cardinality cap) and serves them on /metrics
 * through @opentelemetry/exporter-prometheus.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { BatchObservableCallback, Observable } from '@opentelemetry/api';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { MeterProvider, type MetricReader } from '@opentelemetry/sdk-metrics';
import { READ_ONLY } from '../../pipeline/component.ts';
import type { ComponentSettings, Exporter } from '../../pipeline/component.ts';
import type { FlowBatch, FlowRecord } from '../../pipeline/flow.ts';
import { FlowStore } from '../series/index.ts';
import { parseEndpoint } from '../../pipeline/schema.ts';
import type { PrometheusExporterConfig } from './config.ts';
import { KUBEZONNET_HELP, KUBEZONNET_METRIC, kubezonnetSource } from './kubezonnet.ts';
import { FlowLabeler } from './labels.ts';
import { FlowMetricProducer, type CounterView } from './producer.ts';

/** Labels of the series that collects records past max_series (as the OpenTelemetry SDK names it). */
export const OVERFLOW_LABELS = Object.freeze({ otel_metric_overflow: 'true' });
export const METRICS_PATH = '/metrics';

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
  readonly #reader: PrometheusExporter;
  readonly #meterProvider: MeterProvider;
  readonly #server: Server;
  readonly #telemetry: { callback: BatchObservableCallback; observables: Observable[] };
  #lastExpiry = 0;
  #overflowWarned = false;

  /** `now` is the clock (ms since epoch); tests pass their own. */
  constructor(settings: ComponentSettings, config: PrometheusExporterConfig, now: () => number = Date.now) {
    this.#settings = settings;
    this.#config = Object.freeze({ ...config });
    this.#now = now;
    this.#labeler = new FlowLabeler(config);
    const storeOptions = { ttlMs: config.series_ttl, maxSeries: config.max_series, overflowAttributes: OVERFLOW_LABELS };
    this.flows = new FlowStore(storeOptions);
    this.kubezonnet = config.kubezonnet_compat ? new FlowStore(storeOptions) : undefined;

    const views: CounterView[] = [
      { name: 'zonetap.network.flow.bytes', description: 'IP bytes sent (headers included), by source and destination.', store: this.flows, value: (s) => s.bytes },
      { name: 'zonetap.network.flow.packets', description: 'IP packets sent, by source and destination.', store: this.flows, value: (s) => s.packets },
      { name: 'zonetap.network.flow.cost_usd', description: 'Cost of the bytes sent in US dollars, as priced by the cost processor.', store: this.flows, value: (s) => s.costUsd },
    ];
    if (this.kubezonnet) views.push({ name: KUBEZONNET_METRIC, description: KUBEZONNET_HELP, store: this.kubezonnet, value: (s) => s.bytes });
    const producer = new FlowMetricProducer(views, now, (t) => this.#expire(t));

    // The reader serves no instruments of its own but MUST be registered with a
    // MeterProvider before it can collect; the flow series come from `producer`.
    this.#reader = new PrometheusExporter({ preventServerStart: true, withoutScopeInfo: true, withoutTargetInfo: true, metricProducers: [producer] });
    // exporter-prometheus 0.301 depends on sdk-metrics 3.1.0, the project on 3.1.1:
    // same runtime contract, distinct class declarations for the compiler.
    this.#meterProvider = new MeterProvider({ readers: [this.#reader as unknown as MetricReader] });
    this.#server = createServer((req, res) => this.#handle(req, res));
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
    if (overflowed && !this.#overflowWarned) {
      this.#overflowWarned = true;
      this.#settings.logger.warn({ max_series: this.#config.max_series }, 'max_series reached: new label sets are summed into the series labelled otel_metric_overflow="true"');
    }
    // Without scrapes, memory must stay bounded too: expire from consume() now and then.
    if (now - this.#lastExpiry >= Math.min(this.#config.series_ttl / 4, 10_000)) this.#expire(now);
  }

  async shutdown(): Promise<void> {
    this.#settings.meter.removeBatchObservableCallback(this.#telemetry.callback, this.#telemetry.observables);
    if (this.#server.listening) {
      const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
      this.#server.closeAllConnections();
      await closed;
    }
    await this.#meterProvider.shutdown();
    this.flows.clear();
    this.kubezonnet?.clear();
  }

  #expire(now: number): void {
    this.#lastExpiry = now;
    const removed = this.flows.expire(now) + (this.kubezonnet?.expire(now) ?? 0);
    if (removed > 0) this.#settings.logger.debug({ removed }, 'expired series');
    if (this.flows.overflowSeries === undefined && this.kubezonnet?.overflowSeries === undefined) this.#overflowWarned = false;
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    const path = (req.url ?? '/').split('?', 1)[0];
    if (path !== METRICS_PATH) {
      res.statusCode = 404;
      res.end(`zonetap serves Prometheus metrics on ${METRICS_PATH}\n`);
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.statusCode = 405;
      res.setHeader('allow', 'GET, HEAD');
      res.end();
      return;
    }
    this.#reader.getMetricsRequestHandler(req, res);
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
