/** Test support: settings for a component built outside a service, and a consumer that records batches. */
import { pino } from 'pino';
import { z } from 'zod';
import { metrics } from '@opentelemetry/api';
import { MeterProvider, MetricReader, type MetricData } from '@opentelemetry/sdk-metrics';
import { READ_ONLY } from './component.ts';
import type { ComponentKind, ComponentSettings, ExporterFactory, Factory, FlowConsumer, ReceiverFactory } from './component.ts';
import { ConfigError } from './config/problems.ts';
import type { ServiceConfig } from './config/types.ts';
import { ZonetapError } from './errors.ts';
import { FactoryRegistry } from './registry.ts';
import { Service } from './service.ts';
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
  readonly capabilities = READ_ONLY;
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

const idleSchema = z.strictObject({});
const idleParts = { stability: 'development' as const, description: 'test partner', configSchema: idleSchema };
const idleReceiver: ReceiverFactory = { ...idleParts, kind: 'receiver', type: 'test_idle', create: () => ({ async start() {}, async shutdown() {} }) };
const idleExporter: ExporterFactory = { ...idleParts, kind: 'exporter', type: 'test_idle', create: () => ({ capabilities: READ_ONLY, async start() {}, async shutdown() {}, async consume() {} }) };

/**
 * Starts one component `id` (built by `factory` from the parsed `config`) in a
 * Service between an idle receiver and exporter, as `zonetap run` would, and
 * returns the error the service rejects with (it fails the test if start-up
 * succeeds). For tests of start failures: only the service names the component.
 */
export async function serviceStartError(factory: Factory, id: string, config: unknown): Promise<ZonetapError> {
  const one = (kind: ComponentKind, cid: string, type: string, c: unknown) => new Map([[cid, { id: cid, kind, type, config: c }]]);
  const mine = { id, kind: factory.kind, type: factory.type, config };
  const serviceConfig: ServiceConfig = {
    files: [],
    receivers: factory.kind === 'receiver' ? new Map([[id, mine]]) : one('receiver', 'test_idle', 'test_idle', {}),
    processors: factory.kind === 'processor' ? new Map([[id, mine]]) : new Map(),
    exporters: factory.kind === 'exporter' ? new Map([[id, mine]]) : one('exporter', 'test_idle', 'test_idle', {}),
    pipelines: new Map([
      [
        'flows',
        {
          id: 'flows',
          receivers: [factory.kind === 'receiver' ? id : 'test_idle'],
          processors: factory.kind === 'processor' ? [id] : [],
          exporters: [factory.kind === 'exporter' ? id : 'test_idle'],
        },
      ],
    ]),
    telemetry: { metricsEndpoint: null, logLevel: 'silent' },
    warnings: [],
  };
  const registry = new FactoryRegistry([factory, idleReceiver, idleExporter]);
  const service = new Service(serviceConfig, registry, { logger: pino({ level: 'silent' }) });
  try {
    await service.start();
  } catch (err) {
    if (err instanceof ZonetapError) return err;
    throw err;
  } finally {
    await service.shutdown();
  }
  throw new Error(`"${id}" started; a start failure was expected`);
}
