/**
 * zonetap embedded in a Node program: a recorded flow log is replayed through
 * zonetap's crosszone processor, a custom processor (largeflows), zonetap's
 * cost processor and a custom exporter (bill). Stops on SIGTERM or Ctrl-C,
 * within a 5 s deadline, and prints the bill.
 *
 *   npm install && node main.ts
 */
import { fileURLToPath } from 'node:url';
import { ConfigError, createService } from 'zonetap';
import type { ZonetapService } from 'zonetap';
import { billExporterFactory } from './bill.ts';
import { largeFlowsProcessorFactory } from './large-flows.ts';

// The same YAML as a zonetap config file; ${env:NAME} is replaced from `env`.
const config = `
receivers:
  replay:
    path: \${env:FLOW_LOG}
    interval: 100ms
processors:
  crosszone: {}
  largeflows:
    min_bytes: 1000
  cost:
    provider: gcp
exporters:
  bill:
    title: Cross-zone bill of the replayed flows
service:
  pipelines:
    flows:
      receivers: [replay]
      processors: [crosszone, largeflows, cost]
      exporters: [bill]
  telemetry:
    metrics: { endpoint: 127.0.0.1:0 }   # /metrics, /healthz, /readyz on a free port
    logs: { level: warn }
`;

function build(): ZonetapService {
  try {
    return createService({
      config,
      env: { FLOW_LOG: fileURLToPath(new URL('./flows.jsonl', import.meta.url)) },
      components: [largeFlowsProcessorFactory, billExporterFactory],
      shutdownTimeoutMs: 5_000,
    });
  } catch (err) {
    // Every problem at once, as `zonetap validate` prints them (file:line:column: path: message).
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.code}: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
}

const service = build();
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    // The telemetry server keeps the process alive; once everything has stopped, it exits.
    void service.shutdown().then((clean) => (process.exitCode = clean ? 0 : 1));
  });
}
try {
  await service.start();
} catch (err) {
  // The message names the component that failed; what had started is already stopped.
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
}
const { host, port } = service.telemetryAddress!;
process.stderr.write(`zonetap is running: http://${host}:${port}/metrics; stop with Ctrl-C\n`);
