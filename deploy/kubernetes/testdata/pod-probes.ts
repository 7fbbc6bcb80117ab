/**
 * Child process of pods.test.ts, run inside the test's network namespace: does what the
 * kubelet and Prometheus do to an agent pod. Waits (up to `--timeout` ms) until
 * http://127.0.0.1:8888/readyz answers 200, then prints one JSON line with the status of
 * /healthz and /readyz and the metric names served on the telemetry and metrics ports.
 * Usage: node pod-probes.ts TELEMETRY_PORT METRICS_PORT [TIMEOUT_MS]
 */
import { until } from '../../../test/support/poll.ts';

const [telemetry = '8888', metrics = '9464', timeout = '60000'] = process.argv.slice(2);

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
await until('/readyz to answer 200', async () => (ready = await status(`http://127.0.0.1:${telemetry}/readyz`)) === 200, { timeoutMs: Number(timeout), intervalMs: 250 }).catch(() => undefined);
console.log(
  JSON.stringify({
    healthz: await status(`http://127.0.0.1:${telemetry}/healthz`),
    readyz: ready,
    telemetryMetrics: await metricNames(`http://127.0.0.1:${telemetry}/metrics`),
    flowMetricsStatus: await status(`http://127.0.0.1:${metrics}/metrics`),
  }),
);
