/**
 * Test support for components built outside a service: their settings (plain,
 * with a meter the test reads back, with logs kept as text), a consumer that
 * records the batches it gets, and config problems through the real loader.
 */
import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';
import { metrics } from '@opentelemetry/api';
import { MeterProvider, MetricReader, type MetricData } from '@opentelemetry/sdk-metrics';
import type { ComponentKind, ComponentSettings, Factory, FlowConsumer } from '../../pipeline/component.ts';
import { ConfigError } from '../../pipeline/config/problems.ts';
import { FactoryRegistry } from '../../pipeline/registry.ts';
import type { FlowBatch } from '../../pipeline/flow.ts';
import { SELF_TELEMETRY_CARDINALITY_LIMIT } from '../../pipeline/telemetry/metrics.ts';

/** Settings for a component built outside a service (reportSendFailure does nothing: override it to count). */
export function testSettings(id: string, kind: ComponentKind): ComponentSettings {
  return { id, kind, logger: pino({ level: process.env.ZONETAP_TEST_LOG ?? 'silent' }), meter: metrics.getMeter('zonetap-test'), reportSendFailure: () => {} };
}

class CollectingReader extends MetricReader {
  protected override async onShutdown() {}
  protected override async onForceFlush() {}
}

/**
 * testSettings() whose meter is read back by `collect()`: every metric the
 * component recorded so far, from a MeterProvider set up like the service's
 * (pipeline/telemetry/metrics.ts), so histogram bucket advice applies as it does there.
 */
export function meteredSettings(id: string, kind: ComponentKind): { settings: ComponentSettings; collect(): Promise<MetricData[]> } {
  const reader = new CollectingReader();
  const provider = new MeterProvider({ readers: [reader], views: [{ instrumentName: '*', aggregationCardinalityLimit: SELF_TELEMETRY_CARDINALITY_LIMIT }] });
  return {
    settings: { ...testSettings(id, kind), meter: provider.getMeter(`zonetap/${id}`) },
    async collect() {
      const { resourceMetrics } = await reader.collect();
      return resourceMetrics.scopeMetrics.flatMap((s) => s.metrics);
    },
  };
}

/** The sum of a metric's data points (every attribute set), or undefined when it was not recorded. */
export function metricTotal(metrics: readonly MetricData[], name: string): number | undefined {
  return metrics.find((m) => m.descriptor.name === name)?.dataPoints.reduce((sum, p) => sum + (p.value as number), 0);
}

/** A logger at `level` whose JSON lines are kept, one string each, in `lines`. */
export function capturedLogger(level = 'debug'): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      lines.push(String(chunk));
      done();
    },
  });
  return { logger: pino({ level }, stream), lines };
}

/** Collects every batch it is given. */
export class RecordingConsumer implements FlowConsumer {
  readonly batches: FlowBatch[] = [];
  async consume(batch: FlowBatch): Promise<void> {
    this.batches.push(batch);
  }
  get records() {
    return this.batches.flatMap((b) => b.records);
  }
}

/**
 * The problems loadConfig reports for config files, one formatted line each
 * (`file:line:column: path: message`), or [] when they are valid. For tests
 * of component schemas through the real loader.
 */
export async function configProblems(files: readonly string[], factories: readonly Factory[], env: NodeJS.ProcessEnv = {}): Promise<string[]> {
  const { loadConfig } = await import('../../pipeline/config/load.ts');
  try {
    await loadConfig(files, new FactoryRegistry(factories), { env });
    return [];
  } catch (err) {
    if (err instanceof ConfigError) return [...err.lines];
    throw err;
  }
}
