/**
 * The process metrics operators graph first, as every Prometheus client
 * library names them: process_cpu_seconds_total, process_resident_memory_bytes,
 * process_open_fds, process_start_time_seconds, and Node.js's nodejs_* (heap,
 * event-loop lag, GC). prom-client's default collectors compute them; zonetap
 * serves them beside its own metrics (metrics.ts).
 */
import { Registry, collectDefaultMetrics } from 'prom-client';

let registry: Registry | undefined;

/**
 * The one registry of process metrics. One per process: they describe the
 * process, not a service, and prom-client's collectors (a GC observer, an
 * event-loop monitor) must be set up once however many services a process runs.
 */
export function processMetrics(): Registry {
  if (!registry) {
    registry = new Registry();
    collectDefaultMetrics({ register: registry });
  }
  return registry;
}
