/**
 * The Meter one component instance gets. It is the provider's meter for the
 * component's ID, except that every observable callback the instance adds is
 * remembered, so that close() can take them all away when a configuration
 * reload retires the instance. Without that, a replaced component would go on
 * reporting its last gauges next to its successor's (same names, same
 * `component_id`), and a removed one would never leave /metrics. Counters and
 * histograms need nothing: a successor with the same ID adds to the same series.
 */
import type { BatchObservableCallback, Meter, MetricOptions, Observable, ObservableCallback } from '@opentelemetry/api';

export class ComponentMeter implements Meter {
  readonly #meter: Meter;
  /** Undo steps for every callback added through this meter. */
  readonly #removals: Array<() => void> = [];

  constructor(meter: Meter) {
    this.#meter = meter;
  }

  createCounter(name: string, options?: MetricOptions) {
    return this.#meter.createCounter(name, options);
  }
  createUpDownCounter(name: string, options?: MetricOptions) {
    return this.#meter.createUpDownCounter(name, options);
  }
  createHistogram(name: string, options?: MetricOptions) {
    return this.#meter.createHistogram(name, options);
  }
  createGauge(name: string, options?: MetricOptions) {
    return this.#meter.createGauge(name, options);
  }
  createObservableGauge(name: string, options?: MetricOptions) {
    return this.#tracked(this.#meter.createObservableGauge(name, options));
  }
  createObservableCounter(name: string, options?: MetricOptions) {
    return this.#tracked(this.#meter.createObservableCounter(name, options));
  }
  createObservableUpDownCounter(name: string, options?: MetricOptions) {
    return this.#tracked(this.#meter.createObservableUpDownCounter(name, options));
  }

  addBatchObservableCallback(callback: BatchObservableCallback, observables: Observable[]): void {
    this.#meter.addBatchObservableCallback(callback, observables);
    this.#removals.push(() => this.#meter.removeBatchObservableCallback(callback, observables));
  }
  removeBatchObservableCallback(callback: BatchObservableCallback, observables: Observable[]): void {
    this.#meter.removeBatchObservableCallback(callback, observables);
  }

  /** Removes every callback this instance added: its observable metrics stop being reported. */
  close(): void {
    for (const remove of this.#removals.splice(0)) remove();
  }

  /**
   * The SDK's instrument with addCallback remembered. A Proxy keeps it the
   * SDK's own object for everything else (batch callbacks check its class).
   */
  #tracked<T extends Observable>(instrument: T): T {
    const removals = this.#removals;
    return new Proxy(instrument, {
      get(target, property, receiver) {
        // Both on the SDK's object itself: it registers callbacks under the instrument they were added to.
        if (property === 'addCallback') {
          return (callback: ObservableCallback) => {
            target.addCallback(callback);
            removals.push(() => target.removeCallback(callback));
          };
        }
        if (property === 'removeCallback') return (callback: ObservableCallback) => target.removeCallback(callback);
        return Reflect.get(target, property, receiver) as unknown;
      },
    });
  }
}
