/**
 * Builds the running components from a validated configuration, as the
 * OpenTelemetry Collector does: every receiver and exporter is built once, however
 * many pipelines list it (a receiver feeds every pipeline it is in; an exporter
 * receives from every pipeline it is in); processors are built once per
 * pipeline, because their output belongs to that pipeline. Components no
 * pipeline uses are not built.
 *
 * Every receiver and processor is created with a Relay as its `next`; the
 * graph records where each relay must point (`wiring`) and connect() points
 * them. A reload builds the new graph from the running one: a component whose
 * kind, ID (and pipeline, for a processor) and configuration are unchanged is
 * carried over as the same node, and only its relay is pointed anew.
 */
import { isDeepStrictEqual } from 'node:util';
import type { Logger } from 'pino';
import type { ComponentKind, ComponentSettings, ExporterFactory, FlowConsumer, ProcessorFactory, ReceiverFactory } from './component.ts';
import type { ComponentConfig, ServiceConfig } from './config/types.ts';
import { ZonetapError } from './errors.ts';
import { fanout } from './fanout.ts';
import { Lifecycle } from './lifecycle.ts';
import { countOutput, observeConsumer } from './observed.ts';
import type { FactoryRegistry } from './registry.ts';
import { Relay } from './relay.ts';
import type { ComponentMeter } from './telemetry/component-meter.ts';
import type { SelfTelemetry } from './telemetry/metrics.ts';

export interface GraphNode {
  /** What stays the same across a reload for the node to be carried over: kind, pipeline (processors), ID. */
  key: string;
  id: string;
  kind: ComponentKind;
  /** Set for processors, which exist once per pipeline. */
  pipeline?: string;
  /** How messages name it: `"netfilter" receiver`, `"cost" processor in pipeline "flows"`. */
  label: string;
  /** The configuration it was built from: a reload keeps the node only while this is unchanged. */
  config: ComponentConfig;
  /** The component behind its start/stop guard. */
  lifecycle: Lifecycle;
  /** Its self-telemetry meter: closed when the node is retired. */
  meter: ComponentMeter;
  /** Receivers and processors: the `next` the component was created with. */
  output?: Relay;
  /** Processors and exporters: what upstream hands batches to (counted; a failure becomes a logged drop). */
  input?: FlowConsumer;
}

/** Built components in start order within each kind (config order), and where each relay points. */
export interface Graph {
  exporters: GraphNode[];
  processors: GraphNode[];
  receivers: GraphNode[];
  wiring: Map<Relay, FlowConsumer>;
}

export interface GraphDeps {
  registry: FactoryRegistry;
  telemetry: SelfTelemetry;
  logger: Logger;
}

export const emptyGraph = (): Graph => ({ exporters: [], processors: [], receivers: [], wiring: new Map() });

/** Every node, in start order: exporters, processors, receivers. */
export const nodesOf = (graph: Graph): GraphNode[] => [...graph.exporters, ...graph.processors, ...graph.receivers];

/** Points every relay of the graph at its downstream. */
export function connect(graph: Graph): void {
  for (const [relay, target] of graph.wiring) relay.connect(target);
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * Creates every used component into `graph` (filled as it goes, so that on a
 * failure the caller can shut down what was already created), carrying over
 * the nodes of `running` whose key and configuration are unchanged. Nothing is
 * connected or started.
 * @throws ZonetapError ZT_COMPONENT_START naming the component whose factory threw.
 */
export function buildGraph(config: ServiceConfig, deps: GraphDeps, graph: Graph = emptyGraph(), running?: Graph): Graph {
  const { registry, telemetry, logger } = deps;
  const pipelines = [...config.pipelines.values()];
  const reusable = new Map(running ? nodesOf(running).map((n) => [n.key, n]) : []);

  /** The running node for `key` if its configuration is unchanged, or a new one made by `make`. */
  const node = (
    c: ComponentConfig,
    key: string,
    label: string,
    pipeline: string | undefined,
    make: (settings: ComponentSettings, meter: ComponentMeter) => Omit<GraphNode, 'key' | 'id' | 'kind' | 'label' | 'config' | 'meter' | 'pipeline'>,
  ): GraphNode => {
    const kept = reusable.get(key);
    if (kept && isDeepStrictEqual(kept.config, c)) return kept;
    const meter = telemetry.meterFor(c.id);
    const settings = {
      id: c.id,
      kind: c.kind,
      logger: logger.child(pipeline ? { component_id: c.id, kind: c.kind, pipeline } : { component_id: c.id, kind: c.kind }),
      meter,
      reportSendFailure: (count = 1) => telemetry.exportFailed(c.id, count),
    };
    try {
      const parts = make(settings, meter);
      telemetry.register(c.id, c.kind);
      return { key, id: c.id, kind: c.kind, label, config: c, meter, ...(pipeline ? { pipeline } : {}), ...parts };
    } catch (err) {
      throw new ZonetapError('ZT_COMPONENT_START', `failed to create ${label}: ${errorMessage(err)}`, { cause: err });
    }
  };
  const factoryOf = <F>(c: ComponentConfig): F => registry.get(c.kind, c.type) as F;

  // Exporters: one instance each, shared by the pipelines that list it.
  const exporterInputs = new Map<string, FlowConsumer>();
  for (const c of config.exporters.values()) {
    if (!pipelines.some((p) => p.exporters.includes(c.id))) continue;
    const exporter = node(c, `exporter/${c.id}`, `"${c.id}" exporter`, undefined, (settings) => {
      const component = factoryOf<ExporterFactory>(c).create(settings, c.config);
      const input = observeConsumer(component, c.id, 'exporter', telemetry, settings.logger);
      return { lifecycle: new Lifecycle(component), input };
    });
    graph.exporters.push(exporter);
    exporterInputs.set(c.id, exporter.input!);
  }

  // Processors, back to front in each pipeline; the pipeline's head is what its receivers feed.
  const heads = new Map<string, FlowConsumer>();
  for (const p of pipelines) {
    let next = fanout(p.exporters.map((id) => exporterInputs.get(id)!));
    const built: GraphNode[] = [];
    for (const id of [...p.processors].reverse()) {
      const c = config.processors.get(id)!;
      const processor = node(c, `processor/${p.id}/${c.id}`, `"${c.id}" processor in pipeline "${p.id}"`, p.id, (settings) => {
        const output = new Relay();
        const component = factoryOf<ProcessorFactory>(c).create(settings, c.config, output);
        return { lifecycle: new Lifecycle(component), output, input: observeConsumer(component, c.id, 'processor', telemetry, settings.logger) };
      });
      graph.wiring.set(processor.output!, countOutput(next, c.id, 'processor', telemetry));
      built.unshift(processor);
      graph.processors.push(processor);
      next = processor.input!;
    }
    // Keep front-to-back order (shutdown walks it backwards, so data drains downstream).
    graph.processors.splice(graph.processors.length - built.length, built.length, ...built);
    heads.set(p.id, next);
  }

  // Receivers: one instance each, feeding the head of every pipeline that lists it.
  for (const c of config.receivers.values()) {
    const feeds = pipelines.filter((p) => p.receivers.includes(c.id)).map((p) => heads.get(p.id)!);
    if (feeds.length === 0) continue;
    const receiver = node(c, `receiver/${c.id}`, `"${c.id}" receiver`, undefined, (settings) => {
      const output = new Relay();
      return { lifecycle: new Lifecycle(factoryOf<ReceiverFactory>(c).create(settings, c.config, output)), output };
    });
    graph.wiring.set(receiver.output!, countOutput(fanout(feeds), c.id, 'receiver', telemetry));
    graph.receivers.push(receiver);
  }
  return graph;
}
