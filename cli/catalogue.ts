/**
 * The built-in component types, each loaded only when a configuration uses
 * it: a component's modules pull in what it needs (the Kubernetes client, the
 * gRPC stack, the OpenTelemetry exporters), which a configuration without it,
 * and `--version` or `--help`, must not pay for. cli/factories.ts lists the
 * same factories loaded at once, for the library; a test keeps both alike.
 */
import type { ComponentKind, Factory } from '../pipeline/component.ts';
import type { ComponentType } from '../pipeline/config/load.ts';
import { FactoryRegistry } from '../pipeline/registry.ts';

interface CatalogueEntry {
  kind: ComponentKind;
  type: string;
  load(): Promise<Factory>;
}

export const CATALOGUE: readonly CatalogueEntry[] = [
  { kind: 'receiver', type: 'netfilter', load: async () => (await import('../receivers/netfilter/index.ts')).netfilterReceiverFactory },
  { kind: 'receiver', type: 'otlp', load: async () => (await import('../receivers/otlp/index.ts')).otlpReceiverFactory },
  { kind: 'receiver', type: 'replay', load: async () => (await import('../receivers/replay/index.ts')).replayReceiverFactory },
  { kind: 'processor', type: 'k8sattributes', load: async () => (await import('../processors/k8sattributes/index.ts')).k8sattributesProcessorFactory },
  { kind: 'processor', type: 'crosszone', load: async () => (await import('../processors/crosszone/index.ts')).crosszoneProcessorFactory },
  { kind: 'processor', type: 'aggregate', load: async () => (await import('../processors/aggregate/index.ts')).aggregateProcessorFactory },
  { kind: 'processor', type: 'cost', load: async () => (await import('../processors/cost/index.ts')).costProcessorFactory },
  { kind: 'exporter', type: 'prometheus', load: async () => (await import('../exporters/prometheus/index.ts')).prometheusExporterFactory },
  { kind: 'exporter', type: 'otlp', load: async () => (await import('../exporters/otlp/index.ts')).otlpExporterFactory },
  { kind: 'exporter', type: 'flowlog', load: async () => (await import('../exporters/flowlog/index.ts')).flowlogExporterFactory },
  { kind: 'exporter', type: 'console', load: async () => (await import('../exporters/console/index.ts')).consoleExporterFactory },
];

/**
 * One registry that grows as configurations use more types: the service
 * keeps it, so a reload that adds a type finds it loaded by the reload's
 * validation.
 */
export class BuiltInFactories {
  readonly #registry = new FactoryRegistry();
  readonly #loading = new Map<CatalogueEntry, Promise<void>>();

  #load(entry: CatalogueEntry): Promise<void> {
    let loading = this.#loading.get(entry);
    if (!loading) this.#loading.set(entry, (loading = entry.load().then((f) => this.#registry.register(f))));
    return loading;
  }

  /**
   * The registry with the factories of `used` loaded. A type not built in
   * loads every factory: validation then suggests the nearest type, or the
   * kind the type belongs to.
   */
  async registryFor(used: readonly ComponentType[]): Promise<FactoryRegistry> {
    const entries = used.map((u) => CATALOGUE.find((e) => e.kind === u.kind && e.type === u.type));
    await Promise.all((entries.includes(undefined) ? CATALOGUE : entries).map((e) => this.#load(e!)));
    return this.#registry;
  }

  /** Every built-in factory (`zonetap components`). */
  async all(): Promise<Factory[]> {
    await Promise.all(CATALOGUE.map((e) => this.#load(e)));
    return this.#registry.all();
  }
}
