import type { ComponentKind, Factory } from './component.ts';

/** Factories by kind and type. Registering a type twice for one kind is a programming error. */
export class FactoryRegistry {
  readonly #byKind = new Map<ComponentKind, Map<string, Factory>>();

  constructor(factories: readonly Factory[] = []) {
    for (const f of factories) this.register(f);
  }

  register(factory: Factory): void {
    let types = this.#byKind.get(factory.kind);
    if (!types) this.#byKind.set(factory.kind, (types = new Map()));
    if (types.has(factory.type)) throw new Error(`duplicate ${factory.kind} factory "${factory.type}"`);
    types.set(factory.type, factory);
  }

  get(kind: ComponentKind, type: string): Factory | undefined {
    return this.#byKind.get(kind)?.get(type);
  }

  types(kind: ComponentKind): string[] {
    return [...(this.#byKind.get(kind)?.keys() ?? [])].sort();
  }

  all(): Factory[] {
    return [...this.#byKind.values()].flatMap((m) => [...m.values()]);
  }
}
