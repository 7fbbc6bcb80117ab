/** Test support: settings for a component built outside a service, and a consumer that records batches. */
import { pino } from 'pino';
import { metrics } from '@opentelemetry/api';
import { MeterProvider, MetricReader, type MetricData } from '@opentelemetry/sdk-metrics';
import type { ComponentKind, ComponentSettings, Factory, FlowConsumer } from './component.ts';
import { ConfigError } from './config/problems.ts';
import { FactoryRegistry } from './registry.ts';
import type { FlowBatch } from './flow.ts';
import { SELF_TELEMETRY_CARDINALITY_LIMIT } from './telemetry/metrics.ts';

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
  const { loadConfig } = await import('./config/load.ts');
  try {
    await loadConfig(files, new FactoryRegistry(factories), { env });
    return [];
  } catch (err) {
    if (err instanceof ConfigError) return [...err.lines];
    throw err;
  }
}
