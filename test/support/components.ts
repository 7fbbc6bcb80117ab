/**
 * Test support for components built outside a service: their settings (plain,
 * with a meter the test reads back, with logs kept as text), a consumer that
 * records the batches it gets, config problems through the real loader, and
 * the error a service reports when one component fails to start.
 */
import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';
import { z } from 'zod';
import { metrics } from '@opentelemetry/api';
import { MeterProvider, MetricReader, type MetricData } from '@opentelemetry/sdk-metrics';
import { READ_ONLY } from '../../pipeline/component.ts';
import type { ComponentKind, ComponentSettings, ExporterFactory, Factory, FlowConsumer, ReceiverFactory } from '../../pipeline/component.ts';
import { ConfigError } from '../../pipeline/config/problems.ts';
import type { ServiceConfig } from '../../pipeline/config/types.ts';
import { ZonetapError } from '../../pipeline/errors.ts';
import { FactoryRegistry } from '../../pipeline/registry.ts';
import { Service } from '../../pipeline/service.ts';
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
  readonly capabilities = READ_ONLY;
  readonly batches: FlowBatch[] = [];
  /** Per batch: true when it came as columns (read before `records` turns it into records). */
  readonly asColumns: boolean[] = [];
  async consume(batch: FlowBatch): Promise<void> {
    this.batches.push(batch);
    this.asColumns.push(batch.columns !== undefined);
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
    telemetry: { metricsEndpoint: null, logLevel: 'silent', logEncoding: 'json' },
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
