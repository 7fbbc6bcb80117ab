/** Config of the `prometheus` exporter: options, defaults and validation. */
import { z } from 'zod';
import { duration, endpoint } from '../../pipeline/schema.ts';

/**
 * Default cap on label sets per metric. 50,000 label sets is three
 * Prometheus series each (bytes, packets, cost) and a few tens of MB in
 * zonetap; a cluster that rolls traffic up by workload stays far below it.
 */
export const DEFAULT_MAX_SERIES = 50_000;

/**
 * Default cap on /metrics connections: Prometheus uses one per scrape target
 * (two for an HA pair), so 64 leaves room for people and tools, while a flood
 * of idle connections cannot take every file descriptor.
 */
export const DEFAULT_MAX_CONNECTIONS = 64;

export const configSchema = z.strictObject({
  /** host:port serving /metrics. Port 0 picks a free port (tests). */
  endpoint: endpoint().default('127.0.0.1:9464'),
  /** A label set whose flows stopped for this long disappears from /metrics. */
  series_ttl: duration().prefault('15m'),
  /** Most label sets per metric; records past it are summed into one series labelled otel_metric_overflow="true". */
  max_series: z.int({ error: 'expected a whole number of series' }).min(1, { error: 'max_series must be at least 1' }).default(DEFAULT_MAX_SERIES),
  /** Also serve kubezonnet's pod_cross_zone_network_traffic_bytes_total{namespace,pod}. */
  kubezonnet_compat: z.boolean({ error: 'expected true or false' }).default(true),
  /**
   * Which endpoints get src_address/dst_address labels: `none`, `unresolved`
   * (endpoints with no Kubernetes identity, such as internet peers) or `all`.
   */
  address_labels: z.enum(['none', 'unresolved', 'all'], { error: 'expected one of none, unresolved, all' }).default('none'),
  /** Add src_port/dst_port labels (ephemeral ports make one series per connection: off by default). */
  port_labels: z.boolean({ error: 'expected true or false' }).default(false),
  /**
   * A rendered /metrics answer is served again to scrapes for this long
   * (scrapes during a render always share it): bounds rendering to one per
   * this period however many scrapers come. Counters are at most this old.
   */
  exposition_max_age: duration().prefault('1s'),
  /**
   * Serve a new label set at 0 until every regular scraper has been served it
   * so, then with its count: Prometheus takes a series' first sample as its
   * starting point, so without it increase() and rate() miss the flows that
   * created the series (and a restarted zonetap could show no reset at all).
   */
  new_series_at_zero: z.boolean({ error: 'expected true or false' }).default(true),
  /** Open connections to /metrics at most; further ones are closed at once. */
  max_connections: z.int({ error: 'expected a whole number of connections' }).min(1, { error: 'max_connections must be at least 1' }).default(DEFAULT_MAX_CONNECTIONS),
});

export type PrometheusExporterConfig = z.output<typeof configSchema>;
