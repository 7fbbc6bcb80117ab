/**
 * Test support for Prometheus: reading text exposition, the exposition that
 * @opentelemetry/exporter-prometheus writes for zonetap's series stores (the
 * reference exporters/prometheus must match, and the benchmark's baseline),
 * and Debian's
 * Prometheus (/usr/bin/prometheus, installed by scripts/setup.sh) run on a free
 * loopback port with a temporary config and TSDB, scraping the targets it is
 * given, queried through its HTTP API (increase() without extrapolation
 * included, for tests that follow counters through restarts).
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

interface MatrixSeries {
  metric: Record<string, string>;
  values: [number, string][];
}

export interface PrometheusServer {
  /** Its HTTP API's base URL, like http://127.0.0.1:41234 (what `zonetap advise --prometheus` takes). */
  readonly url: string;
  /** Runs an instant query (at `time`, seconds since the epoch, or now); asserts that it succeeded with a vector. */
  query(promql: string, time?: number): Promise<VectorSample[]>;
  /** Scrapes exactly these `host:port` targets from now on; resolves once Prometheus has scraped each (and only them). */
  setTargets(addresses: readonly string[]): Promise<void>;
  /**
   * Prometheus' own sum of increase() over every series matching `selector`
   * since `sinceMs`, each series evaluated at the time of its last sample:
   * increase() extrapolates toward the ends of its window, by up to half a
   * scrape interval of the series' average rate, unless the window ends on a
   * sample and the series starts at 0 (zonetap serves new series at 0 first).
   * Throws when a series does not start at 0 or falls to anything but 0 (a
   * restart): a missed reset or a negative rate.
   */
  increase(selector: string, sinceMs: number): Promise<number>;
  /** The last sample since `sinceMs` of `selector` on target `instance` (host:port), summed over its series. */
  lastValue(selector: string, instance: string, sinceMs: number): Promise<number>;
  /** What Prometheus logged (warnings and errors). */
  log(): string;
  /** SIGTERM, SIGKILL after 15 s; resolves with the exit code. */
  stop(): Promise<number | null>;
}

export interface PrometheusOptions {
  /** Scrape interval; default 1 s. */
  scrapeMs?: number;
}

/**
 * Starts Prometheus in `dir` (config and TSDB go there) scraping `targets`
 * (host:port) every second, or every `scrapeMs`; resolves once it has
 * scraped each of them (up, or down: `up` has a sample).
 * Targets come from a file Prometheus watches (file_sd), so setTargets()
 * changes them as Kubernetes discovery would: a gateway replaced on new
 * ports is a new target, as a new pod is.
 */
export async function startPrometheus(dir: string, targets: string | readonly string[], options: PrometheusOptions = {}): Promise<PrometheusServer> {
  const port = await freePort();
  const api = `http://127.0.0.1:${port}`;
  const scrape = `${options.scrapeMs ?? 1000}ms`;
  const targetsFile = join(dir, 'targets.json');
  const writeTargets = (list: readonly string[]) => writeFileSync(targetsFile, JSON.stringify([{ targets: list }]));
  writeTargets([]);
  writeFileSync(join(dir, 'prometheus.yml'), stringify({
    global: { scrape_interval: scrape, scrape_timeout: scrape, evaluation_interval: scrape },
    scrape_configs: [{ job_name: 'zonetap', file_sd_configs: [{ files: [targetsFile], refresh_interval: '1s' }] }],
  }));
  const program = startProgram(PROMETHEUS, [
    `--config.file=${join(dir, 'prometheus.yml')}`,
    `--storage.tsdb.path=${join(dir, 'tsdb')}`,
    `--web.listen-address=127.0.0.1:${port}`,
    '--log.level=warn',
  ]);
  const get = async <T>(promql: string, time: number | undefined, type: 'vector' | 'matrix'): Promise<T[]> => {
    const params = new URLSearchParams({ query: promql });
    if (time !== undefined) params.set('time', String(time));
    const body = (await (await fetch(`${api}/api/v1/query?${params}`)).json()) as { status: string; error?: string; data: { resultType: string; result: T[] } };
    assert.equal(body.status, 'success', `${promql}: ${body.error}`);
    assert.equal(body.data.resultType, type, promql);
    return body.data.result;
  };
  const query = (promql: string, time?: number) => get<VectorSample>(promql, time, 'vector');
  /** Raw samples of `selector` since `sinceMs` (a range query answers them as stored). */
  const samples = (selector: string, sinceMs: number) => {
    const now = Date.now() / 1000;
    return get<MatrixSeries>(`${selector}[${Math.ceil(now - sinceMs / 1000) + 2}s]`, now, 'matrix');
  };
  const exitedEarly = program.exited.then((code) => Promise.reject(new Error(`Prometheus exited (${code}) while starting:\n${program.output()}`)));
  exitedEarly.catch(() => {}); // once started, a later exit (stop()) is no error
  try {
    await Promise.race([until('Prometheus to be ready', async () => (await fetch(`${api}/-/ready`)).ok, { details: program.output, timeoutMs: 45_000 }), exitedEarly]);
  } catch (err) {
    await program.stop();
    throw err;
  }
  const setTargets = async (addresses: readonly string[]) => {
    writeTargets(addresses);
    await until(`Prometheus to scrape ${addresses.join(', ')}`, async () => {
      const seen = new Set((await query('up')).map((s) => s.metric.instance));
      return seen.size === addresses.length && addresses.every((a) => seen.has(a));
    }, { details: program.output, timeoutMs: 60_000 });
  };
  // Discovery hands targets to the scrapers up to 5 s late: the first ones are waited for here.
  await setTargets(typeof targets === 'string' ? [targets] : targets);
  return {
    url: api,
    query,
    setTargets,
    async increase(selector, sinceMs) {
      let total = 0;
      for (const s of await samples(selector, sinceMs)) {
        const values = s.values.map(([, v]) => Number(v));
        assert.equal(values[0], 0, `series ${JSON.stringify(s.metric)} starts at ${values[0]}, not 0: ${values.join(' ')}`);
        for (let i = 1; i < values.length; i++) {
          assert.ok(values[i]! >= values[i - 1]! || values[i] === 0, `series ${JSON.stringify(s.metric)} fell to ${values[i]}, not 0: ${values.join(' ')}`);
        }
        const last = s.values.at(-1)![0];
        const labels = Object.entries(s.metric).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(',');
        const result = await query(`sum(increase({${labels}}[${Math.ceil(last - sinceMs / 1000) + 2}s]))`, last);
        total += Number(result[0]?.value[1] ?? 0);
      }
      return total;
    },
    async lastValue(selector, instance, sinceMs) {
      const series = await samples(selector.replace('}', `,instance="${instance}"}`), sinceMs);
      return series.reduce((n, s) => n + Number(s.values.at(-1)![1]), 0);
    },
    log: program.output,
    stop: () => program.stop(),
  };
}
