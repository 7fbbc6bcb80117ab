/**
 * A custom exporter: sums bytes and cost per source workload and traffic
 * class, and writes the bill to stdout when the service stops (its flush).
 * It only reads the batches it is given, so it declares READ_ONLY and
 * fan-out never copies a batch for it.
 */
import { READ_ONLY, z } from 'zonetap';
import type { ExporterFactory } from 'zonetap';

const configSchema = z.strictObject({
  /** The first line of the bill. */
  title: z.string().default('Traffic bill'),
});

interface Line {
  bytes: number;
  usd: number;
}

export const billExporterFactory: ExporterFactory<z.output<typeof configSchema>> = {
  kind: 'exporter',
  type: 'bill',
  stability: 'development',
  description: 'Sums bytes and cost per source workload and traffic class; prints them on shutdown.',
  configSchema,
  create(settings, config) {
    const lines = new Map<string, Line>();
    return {
      capabilities: READ_ONLY,
      async start() {},
      async consume(batch) {
        for (const flow of batch.records) {
          const workload = flow.src.namespace ? `${flow.src.namespace}/${flow.src.workloadName}` : flow.src.address;
          const key = `${workload} ${flow.trafficClass ?? 'unknown'}`;
          const line = lines.get(key) ?? { bytes: 0, usd: 0 };
          line.bytes += flow.bytes;
          line.usd += flow.costUsd ?? 0;
          lines.set(key, line);
        }
        settings.logger.info({ flows: batch.records.length, start: new Date(batch.start).toISOString() }, 'billed');
        process.stderr.write(`billed ${batch.records.length} flows of ${new Date(batch.start).toISOString()}\n`);
      },
      async shutdown() {
        const rows = [...lines].sort(([a], [b]) => a.localeCompare(b));
        const text = rows.map(([key, { bytes, usd }]) => `${key.padEnd(28)} ${String(bytes).padStart(10)} B  $${usd.toFixed(6)}`);
        process.stdout.write(`${config.title}\n${text.join('\n')}\n`);
      },
    };
  },
};
