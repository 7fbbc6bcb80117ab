/**
 * Child process of pods.test.ts, run inside the test's network namespace: does what the
 * kubelet and Prometheus do to a pod. Waits (up to TIMEOUT_MS) until
 * http://HOST:TELEMETRY_PORT/readyz answers 200, then prints one JSON line with the status of
 * /healthz and /readyz, the metric names served on the telemetry and metrics ports, and, when
 * OTHER_HOST is given, the status of both ports there (0: nothing listens).
 * Usage: node pod-probes.ts HOST TELEMETRY_PORT METRICS_PORT [TIMEOUT_MS] [OTHER_HOST]
 */
import { until } from '../../../test/support/poll.ts';

const [host = '127.0.0.1', telemetry = '8888', metrics = '9464', timeout = '60000', other] = process.argv.slice(2);
const url = (h: string, port: string, path: string) => `http://${h.includes(':') ? `[${h}]` : h}:${port}${path}`;

async function status(url: string): Promise<number> {
  try {
    const r = await fetch(url);
    await r.arrayBuffer();
    return r.status;
  } catch {
    return 0;
  }
}

async function metricNames(url: string): Promise<string[]> {
  try {
    const text = await (await fetch(url)).text();
    return [...new Set(text.split('\n').filter((l) => l && !l.startsWith('#')).map((l) => /^[a-zA-Z_:][\w:]*/.exec(l)?.[0] ?? ''))].filter(Boolean);
  } catch {
    return [];
  }
}

let ready = 0;
// Not ready in time is reported (readyz is then the last status seen), not thrown.
await until('/readyz to answer 200', async () => (ready = await status(url(host, telemetry, '/readyz'))) === 200, { timeoutMs: Number(timeout), intervalMs: 250 }).catch(() => undefined);
console.log(
  JSON.stringify({
    healthz: await status(url(host, telemetry, '/healthz')),
    readyz: ready,
    telemetryMetrics: await metricNames(url(host, telemetry, '/metrics')),
    flowMetricsStatus: await status(url(host, metrics, '/metrics')),
    elsewhere: other ? { telemetry: await status(url(other, telemetry, '/metrics')), metrics: await status(url(other, metrics, '/metrics')) } : undefined,
  }),
);
