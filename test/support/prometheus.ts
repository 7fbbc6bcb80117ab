/**
 * Test support for Prometheus: reading text exposition, the exposition that
 * @opentelemetry/exporter-prometheus writes for zonetap's series stores (the
 * reference exporters/prometheus must match, and the benchmark's baseline),
 * and Debian's
 * Prometheus (/usr/bin/prometheus, installed by scripts/setup.sh) run on a free
 * loopback port with a temporary config and TSDB, scraping one target every
 * second, queried through its HTTP API.
 *
 * The exposition parser is sim/'s (the demo's live view reads the gateway with
 * it): one implementation. Tests read strictly: a line that is neither a
 * comment nor a sample fails the test, so a malformed exposition cannot pass
 * unnoticed.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { ValueType, type Attributes, type HrTime } from '@opentelemetry/api';
import { PrometheusSerializer } from '@opentelemetry/exporter-prometheus';
import { emptyResource } from '@opentelemetry/resources';
import { AggregationTemporality, DataPointType, type DataPoint, type ResourceMetrics, type SumMetricData } from '@opentelemetry/sdk-metrics';
import type { CounterFamily } from '../../exporters/prometheus/index.ts';
import { parseExposition, type Sample } from '../../sim/exposition.ts';
import { freePort } from './loopback.ts';
import { until } from './poll.ts';
import { startProgram } from './processes.ts';

export { parseExposition, sumOf } from '../../sim/exposition.ts';
export type { Sample } from '../../sim/exposition.ts';

const PROMETHEUS = '/usr/bin/prometheus';

/** Parses exposition text into samples; throws on any line that is neither empty, a comment nor a sample. */
export function parseExpositionStrictly(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const parsed = parseExposition(line);
    if (parsed.length !== 1) throw new Error(`not a sample line: ${line}`);
    samples.push(parsed[0]!);
  }
  return samples;
}

/** GET http://`address`/metrics (`address` is host:port): must answer 200; its samples, parsed strictly. */
export async function scrapeMetrics(address: string): Promise<Sample[]> {
  const res = await fetch(`http://${address}/metrics`);
  if (res.status !== 200) throw new Error(`GET /metrics: ${res.status}`);
  return parseExpositionStrictly(await res.text());
}

/** The samples called `name` whose labels include every pair in `labels`. */
export function samplesOf(samples: readonly Sample[], name: string, labels: Record<string, string> = {}): Sample[] {
  return samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
}

/**
 * The families as OpenTelemetry metric data, as the prometheus exporter
 * handed them to @opentelemetry/exporter-prometheus through a MetricProducer
 * before it rendered them itself. The `_total` suffix is left to the serializer.
 */
export function resourceMetricsOf(families: readonly CounterFamily[], now: number): ResourceMetrics {
  const endTime = toHrTime(now);
  const metrics: SumMetricData[] = [];
  for (const family of families) {
    const dataPoints: DataPoint<number>[] = [];
    for (const series of family.store.series()) {
      const value = family.value(series);
      if (value === undefined) continue;
      dataPoints.push({ startTime: toHrTime(series.startTime), endTime, attributes: series.attributes as Attributes, value });
    }
    if (dataPoints.length === 0) continue;
    metrics.push({
      descriptor: { name: family.name.replace(/_total$/, ''), description: family.help, unit: '', valueType: ValueType.DOUBLE },
      aggregationTemporality: AggregationTemporality.CUMULATIVE,
      dataPointType: DataPointType.SUM,
      isMonotonic: true,
      dataPoints,
    });
  }
  return { resource: emptyResource(), scopeMetrics: [{ scope: { name: 'zonetap/exporters/prometheus' }, metrics }] };
}

/** What @opentelemetry/exporter-prometheus's serializer writes for the families (no scope labels, no target_info, as the exporter configured it). */
export function officialExposition(families: readonly CounterFamily[], now = Date.now()): string {
  return new PrometheusSerializer('', false, undefined, true, true).serialize(resourceMetricsOf(families, now));
}

function toHrTime(ms: number): HrTime {
  const seconds = Math.floor(ms / 1000);
  return [seconds, Math.round((ms - seconds * 1000) * 1e6)];
}

/** One element of an instant query's vector. */
export interface VectorSample {
  metric: Record<string, string>;
  value: [number, string];
}

export interface PrometheusServer {
  /** Runs an instant query (at `time`, seconds since the epoch, or now); asserts that it succeeded with a vector. */
  query(promql: string, time?: number): Promise<VectorSample[]>;
  /** What Prometheus logged (warnings and errors). */
  log(): string;
  /** SIGTERM, SIGKILL after 15 s; resolves with the exit code. */
  stop(): Promise<number | null>;
}

/** Starts Prometheus in `dir` (config and TSDB go there), scraping `target` (host:port) every second; resolves once it is ready. */
export async function startPrometheus(dir: string, target: string): Promise<PrometheusServer> {
  const port = await freePort();
  const api = `http://127.0.0.1:${port}`;
  writeFileSync(join(dir, 'prometheus.yml'), stringify({
    global: { scrape_interval: '1s', evaluation_interval: '1s' },
    scrape_configs: [{ job_name: 'zonetap', static_configs: [{ targets: [target] }] }],
  }));
  const program = startProgram(PROMETHEUS, [
    `--config.file=${join(dir, 'prometheus.yml')}`,
    `--storage.tsdb.path=${join(dir, 'tsdb')}`,
    `--web.listen-address=127.0.0.1:${port}`,
    '--log.level=warn',
  ]);
  const query = async (promql: string, time?: number): Promise<VectorSample[]> => {
    const params = new URLSearchParams({ query: promql });
    if (time !== undefined) params.set('time', String(time));
    const body = (await (await fetch(`${api}/api/v1/query?${params}`)).json()) as { status: string; error?: string; data: { resultType: string; result: VectorSample[] } };
    assert.equal(body.status, 'success', `${promql}: ${body.error}`);
    assert.equal(body.data.resultType, 'vector', promql);
    return body.data.result;
  };
  const exitedEarly = program.exited.then((code) => Promise.reject(new Error(`Prometheus exited (${code}) while starting:\n${program.output()}`)));
  exitedEarly.catch(() => {}); // once started, a later exit (stop()) is no error
  try {
    await Promise.race([until('Prometheus to be ready', async () => (await fetch(`${api}/-/ready`)).ok, { details: program.output, timeoutMs: 45_000 }), exitedEarly]);
  } catch (err) {
    await program.stop();
    throw err;
  }
  return { query, log: program.output, stop: () => program.stop() };
}
