/**
 * The labels `pod_labels` / `namespace_labels` copy onto flow ends, with
 * bounded cardinality: each label key keeps at most `max_label_values`
 * distinct values, the first ones seen; any other value reads `other` and is
 * counted. A value once kept stays kept (its series do not change name
 * under a user's feet), so the bound holds for the life of the process.
 *
 * The chosen labels of an object are one shared, frozen object per distinct
 * set (the pods of a workload share one): a pointer per pod, and `aggregate`
 * compares them by reference.
 */

/** The value a label reads past its key's bound. */
export const OTHER_VALUE = 'other';

/** Distinct label sets remembered for sharing; past it new sets are still right, only not shared. */
const MAX_SHARED_SETS = 100_000;

export class ChosenLabels {
  readonly #keys: readonly string[];
  readonly #maxValues: number;
  readonly #values = new Map<string, Set<string>>();
  readonly #sets = new Map<string, Readonly<Record<string, string>>>();
  readonly #onOther: (key: string) => void;

  /** `onOther(key)` is called for each object whose value of `key` was replaced by `other`. */
  constructor(keys: readonly string[], maxValues: number, onOther: (key: string) => void) {
    this.#keys = keys;
    this.#maxValues = maxValues;
    this.#onOther = onOther;
    for (const k of keys) this.#values.set(k, new Set());
  }

  /** True when no label is chosen: nothing to copy, nothing to keep. */
  get none(): boolean {
    return this.#keys.length === 0;
  }

  /** Distinct values kept per key (self-telemetry, tests). */
  valuesKept(key: string): number {
    return this.#values.get(key)?.size ?? 0;
  }

  /** The chosen labels of an object with `labels`, undefined when it has none of them. */
  pick(labels: Readonly<Record<string, unknown>> | undefined): Readonly<Record<string, string>> | undefined {
    if (labels === undefined || this.#keys.length === 0) return undefined;
    let picked: Record<string, string> | undefined;
    let setKey = '';
    for (const key of this.#keys) {
      const raw = labels[key];
      if (raw === undefined || raw === null || raw === '') continue;
      const value = this.#bounded(key, String(raw));
      (picked ??= {})[key] = value;
      setKey += `${key}\u0000${value}\u0001`;
    }
    if (picked === undefined) return undefined;
    const shared = this.#sets.get(setKey);
    if (shared !== undefined) return shared;
    Object.freeze(picked);
    if (this.#sets.size < MAX_SHARED_SETS) this.#sets.set(setKey, picked);
    return picked;
  }

  #bounded(key: string, value: string): string {
    const kept = this.#values.get(key)!;
    if (kept.has(value)) return value;
    if (kept.size < this.#maxValues) {
      kept.add(value);
      return value;
    }
    this.#onOther(key);
    return OTHER_VALUE;
  }
}
