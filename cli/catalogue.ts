/**
 * The built-in component types, each loaded only when a configuration uses
 * it: a component's modules pull in what it needs (the Kubernetes client, the
 * gRPC stack, the OpenTelemetry exporters), which a configuration without it,
 * and `--version` or `--help`, must not pay for. cli/factories.ts lists the
 * same factories loaded at once, for the library; a test keeps both alike.
 */
import type { ZodType } from 'zod';
import type { ComponentKind, Factory } from '../pipeline/component.ts';
import type { ComponentType } from '../pipeline/config/load.ts';
import { FactoryRegistry } from '../pipeline/registry.ts';

interface CatalogueEntry {
  kind: ComponentKind;
  type: string;
  /** The factory: the component's whole implementation and the libraries it uses. */
  load(): Promise<Factory>;
  /** The factory's configSchema alone (the component's config.ts): all that validation needs. */
  schema(): Promise<ZodType>;
}

export const CATALOGUE: readonly CatalogueEntry[] = [
  {
    kind: 'receiver',
    type: 'netfilter',
    load: async () => (await import('../receivers/netfilter/index.ts')).netfilterReceiverFactory,
    schema: async () => (await import('../receivers/netfilter/config.ts')).netfilterConfigSchema,
  },
  {
    kind: 'receiver',
    type: 'cgroup',
    load: async () => (await import('../receivers/cgroup/index.ts')).cgroupReceiverFactory,
    schema: async () => (await import('../receivers/cgroup/config.ts')).cgroupConfigSchema,
  },
  {
    kind: 'receiver',
    type: 'otlp',
    load: async () => (await import('../receivers/otlp/index.ts')).otlpReceiverFactory,
    schema: async () => (await import('../receivers/otlp/config.ts')).otlpReceiverConfigSchema,
  },
  {
    kind: 'receiver',
    type: 'replay',
    load: async () => (await import('../receivers/replay/index.ts')).replayReceiverFactory,
    schema: async () => (await import('../receivers/replay/config.ts')).replayConfigSchema,
  },
  {
    kind: 'processor',
    type: 'k8sattributes',
    load: async () => (await import('../processors/k8sattributes/index.ts')).k8sattributesProcessorFactory,
    schema: async () => (await import('../processors/k8sattributes/config.ts')).configSchema,
  },
  {
    kind: 'processor',
    type: 'crosszone',
    load: async () => (await import('../processors/crosszone/index.ts')).crosszoneProcessorFactory,
    schema: async () => (await import('../processors/crosszone/config.ts')).crosszoneConfigSchema,
  },
  {
    kind: 'processor',
    type: 'aggregate',
    load: async () => (await import('../processors/aggregate/index.ts')).aggregateProcessorFactory,
    schema: async () => (await import('../processors/aggregate/config.ts')).aggregateConfigSchema,
  },
  {
    kind: 'processor',
    type: 'cost',
    load: async () => (await import('../processors/cost/index.ts')).costProcessorFactory,
    schema: async () => (await import('../processors/cost/config.ts')).costConfigSchema,
  },
  {
    kind: 'exporter',
    type: 'prometheus',
    load: async () => (await import('../exporters/prometheus/index.ts')).prometheusExporterFactory,
    schema: async () => (await import('../exporters/prometheus/config.ts')).configSchema,
  },
  {
    kind: 'exporter',
    type: 'otlp',
    load: async () => (await import('../exporters/otlp/index.ts')).otlpExporterFactory,
    schema: async () => (await import('../exporters/otlp/config.ts')).otlpExporterConfigSchema,
  },
  {
    kind: 'exporter',
    type: 'flowlog',
    load: async () => (await import('../exporters/flowlog/index.ts')).flowlogExporterFactory,
    schema: async () => (await import('../exporters/flowlog/config.ts')).flowlogConfigSchema,
  },
  {
    kind: 'exporter',
    type: 'console',
    load: async () => (await import('../exporters/console/index.ts')).consoleExporterFactory,
    schema: async () => (await import('../exporters/console/config.ts')).consoleConfigSchema,
  },
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

  /**
   * For validation only (`zonetap validate`): factories that hold the
   * configSchema of each type `used` (every type when one is not built in)
   * and cannot create anything, so that the implementations are not loaded.
   */
  async schemasFor(used: readonly ComponentType[]): Promise<FactoryRegistry> {
    const entries = used.map((u) => CATALOGUE.find((e) => e.kind === u.kind && e.type === u.type));
    const wanted = entries.includes(undefined) ? CATALOGUE : (entries as CatalogueEntry[]);
    const factories = await Promise.all(
      wanted.map(async (e): Promise<Factory> => {
        const create = () => {
          throw new Error(`the ${e.kind} "${e.type}" was loaded for validation only`);
        };
        return { kind: e.kind, type: e.type, stability: 'development', description: '', configSchema: await e.schema(), create } as Factory;
      }),
    );
    return new FactoryRegistry(factories);
  }

  /** Every built-in factory (`zonetap components`). */
  async all(): Promise<Factory[]> {
    await Promise.all(CATALOGUE.map((e) => this.#load(e)));
    return this.#registry.all();
  }
}
