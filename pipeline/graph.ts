/**
 * Builds the running components from a validated configuration, as the
 * OpenTelemetry Collector does: every receiver and exporter is built once, however
 * many pipelines list it (a receiver feeds every pipeline it is in; an exporter
 * receives from every pipeline it is in); processors are built once per
 * pipeline, because their output belongs to that pipeline. Components no
 * pipeline uses are not built.
 */
import type { Logger } from 'pino';
import type { ComponentKind, ComponentSettings, ExporterFactory, FlowConsumer, ProcessorFactory, ReceiverFactory } from './component.ts';
import type { ComponentConfig, ServiceConfig } from './config/types.ts';
import { ZonetapError } from './errors.ts';
import { fanout } from './fanout.ts';
import { Lifecycle } from './lifecycle.ts';
import { countOutput, observeConsumer } from './observed.ts';
import type { FactoryRegistry } from './registry.ts';
import type { SelfTelemetry } from './telemetry/metrics.ts';

export interface GraphNode {
  id: string;
  kind: ComponentKind;
  /** Set for processors, which exist once per pipeline. */
  pipeline?: string;
  /** How messages name it: `"netfilter" receiver`, `"cost" processor in pipeline "flows"`. */
  label: string;
  /** The component behind its start/stop guard. */
  lifecycle: Lifecycle;
}

/** Built components in start order within each kind (config order). */
export interface Graph {
  exporters: GraphNode[];
  processors: GraphNode[];
  receivers: GraphNode[];
}

export interface GraphDeps {
  registry: FactoryRegistry;
  telemetry: SelfTelemetry;
  logger: Logger;
}

export const emptyGraph = (): Graph => ({ exporters: [], processors: [], receivers: [] });

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * Creates every used component into `graph` (filled as it goes, so that on a
 * failure the caller can shut down what was already created).
 * @throws ZonetapError ZT_COMPONENT_START naming the component whose factory threw.
 */
export function buildGraph(config: ServiceConfig, deps: GraphDeps, graph: Graph = emptyGraph()): Graph {
  const { registry, telemetry, logger } = deps;
  const pipelines = [...config.pipelines.values()];

  const create = <T>(c: ComponentConfig, label: string, pipeline: string | undefined, make: (settings: ComponentSettings) => T): T => {
    const settings = {
      id: c.id,
      kind: c.kind,
      logger: logger.child(pipeline ? { component_id: c.id, kind: c.kind, pipeline } : { component_id: c.id, kind: c.kind }),
      meter: telemetry.meterFor(c.id),
      reportSendFailure: (count = 1) => telemetry.exportFailed(c.id, count),
    };
    try {
      return make(settings);
    } catch (err) {
      throw new ZonetapError('ZT_COMPONENT_START', `failed to create ${label}: ${errorMessage(err)}`, { cause: err });
    }
  };
  const factoryOf = <F>(c: ComponentConfig): F => registry.get(c.kind, c.type) as F;

  // Exporters: one instance each, shared by the pipelines that list it.
  const exporterConsumers = new Map<string, FlowConsumer>();
  for (const c of config.exporters.values()) {
    if (!pipelines.some((p) => p.exporters.includes(c.id))) continue;
    const factory = factoryOf<ExporterFactory>(c);
    const label = `"${c.id}" exporter`;
    const exporter = create(c, label, undefined, (s) => factory.create(s, c.config));
    graph.exporters.push({ id: c.id, kind: 'exporter', label, lifecycle: new Lifecycle(exporter) });
    telemetry.register(c.id, 'exporter');
    exporterConsumers.set(c.id, observeConsumer(exporter, c.id, 'exporter', telemetry, logger.child({ component_id: c.id, kind: 'exporter' })));
  }

  // Processors, back to front in each pipeline; the pipeline's head is what its receivers feed.
  const heads = new Map<string, FlowConsumer>();
  for (const p of pipelines) {
    let next = fanout(p.exporters.map((id) => exporterConsumers.get(id)!));
    const built: GraphNode[] = [];
    for (const id of [...p.processors].reverse()) {
      const c = config.processors.get(id)!;
      const factory = factoryOf<ProcessorFactory>(c);
      const label = `"${c.id}" processor in pipeline "${p.id}"`;
      const downstream = countOutput(next, c.id, 'processor', telemetry);
      const processor = create(c, label, p.id, (s) => factory.create(s, c.config, downstream));
      built.unshift({ id: c.id, kind: 'processor', pipeline: p.id, label, lifecycle: new Lifecycle(processor) });
      graph.processors.push(built[0]!);
      telemetry.register(c.id, 'processor');
      next = observeConsumer(processor, c.id, 'processor', telemetry, logger.child({ component_id: c.id, kind: 'processor', pipeline: p.id }));
    }
    // Keep front-to-back order (shutdown walks it backwards, so data drains downstream).
    graph.processors.splice(graph.processors.length - built.length, built.length, ...built);
    heads.set(p.id, next);
  }

  // Receivers: one instance each, feeding the head of every pipeline that lists it.
  for (const c of config.receivers.values()) {
    const feeds = pipelines.filter((p) => p.receivers.includes(c.id)).map((p) => heads.get(p.id)!);
    if (feeds.length === 0) continue;
    const factory = factoryOf<ReceiverFactory>(c);
    const label = `"${c.id}" receiver`;
    const next = countOutput(fanout(feeds), c.id, 'receiver', telemetry);
    const receiver = create(c, label, undefined, (s) => factory.create(s, c.config, next));
    graph.receivers.push({ id: c.id, kind: 'receiver', label, lifecycle: new Lifecycle(receiver) });
    telemetry.register(c.id, 'receiver');
  }
  return graph;
}
