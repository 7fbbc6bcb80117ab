/**
 * The process metrics operators graph first, as every Prometheus client
 * library names them: process_cpu_seconds_total, process_resident_memory_bytes,
 * process_open_fds, process_start_time_seconds, and Node.js's nodejs_* (heap,
 * event-loop lag, GC). prom-client's default collectors compute them; zonetap
 * serves them beside its own metrics (metrics.ts).
 */
import { Registry, collectDefaultMetrics } from 'prom-client';

/**
 * How often the event-loop delay (nodejs_eventloop_lag_*) is sampled. prom-client's 10 ms
 * wakes an idle agent 100 times a second: about 33 ms of CPU per 10 s, a third of the agent's
 * 1% budget (bench/agent.bench.ts); at 100 ms a block of the loop long enough to matter is
 * still seen, for a tenth of that.
 */
const EVENT_LOOP_SAMPLE_MS = 100;

let registry: Registry | undefined;

/**
 * The one registry of process metrics. One per process: they describe the
 * process, not a service, and prom-client's collectors (a GC observer, an
 * event-loop monitor) must be set up once however many services a process runs.
 */
export function processMetrics(): Registry {
  if (!registry) {
    registry = new Registry();
    collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS });
  }
  return registry;
}
