/**
 * The component model, as in the OpenTelemetry Collector: factories build
 * receivers, processors and exporters from a validated config; the pipeline
 * graph wires them with FlowConsumers.
 */
import type { Logger } from 'pino';
import type { Meter } from '@opentelemetry/api';
import type { z } from 'zod';
import type { FlowBatch } from './flow.ts';

export type ComponentKind = 'receiver' | 'processor' | 'exporter';
export type Stability = 'development' | 'alpha' | 'beta' | 'stable';

/**
 * What a consumer does with the batches it is given (the Collector's
 * `consumer.Capabilities`). Fan-out reads it: a consumer that changes batches
 * gets a batch no other consumer sees.
 */
export interface Capabilities {
  /** True when consume() changes the batch: its records, their fields, or the record list. */
  readonly mutatesData: boolean;
}

export const READ_ONLY: Capabilities = Object.freeze({ mutatesData: false });
export const MUTATES_DATA: Capabilities = Object.freeze({ mutatesData: true });

/** Something that accepts flow batches: a processor, an exporter, or the fan-out in front of them. */
export interface FlowConsumer {
  /**
   * Takes one batch. A consumer whose capabilities say `mutatesData: false`
   * MUST NOT change it, and MUST NOT keep a reference to it after the returned
   * promise settles; one that says `true` owns the batch. Rejects only for
   * errors the caller should count as dropped records.
   */
  consume(batch: FlowBatch): Promise<void>;
  /** MUST be true to what consume() does: a wrong `mutatesData: false` corrupts other consumers' input. */
  readonly capabilities: Capabilities;
}

/**
 * What start() and shutdown() are given, as the Collector's `ctx` carries a
 * deadline. `signal` aborts at the deadline, and for start() also when the
 * service begins to shut down; `deadline` (ms since the epoch, Infinity for
 * none) lets a component budget its own work, e.g. how long a final flush may
 * retry, instead of guessing a constant.
 */
export interface LifecycleContext {
  readonly signal: AbortSignal;
  readonly deadline: number;
}

/** What every running component gets from the service. */
export interface ComponentSettings {
  /** `type` or `type/name`. */
  id: string;
  kind: ComponentKind;
  logger: Logger;
  /**
   * For the component's own metrics (self-telemetry), served on service.telemetry.metrics.endpoint.
   * Label them with `component_id` (the `id` above), as the service's own counters are.
   */
  meter: Meter;
  /**
   * Counts failed sends as `zonetap_exporter_send_failed_total{component_id}`, the one
   * metric for export failures. The service already counts a consume() that rejects;
   * exporters that send in the background (not inside consume) MUST call this for each
   * failed send (`count` defaults to 1), and MUST NOT keep a failure counter of their own.
   */
  reportSendFailure(count?: number): void;
}

/**
 * A running part of a pipeline. The service calls start() at most once and
 * shutdown() at most once per component (pipeline/lifecycle.ts guards it), so
 * components need no guards of their own; shutdown() may come without start(),
 * after a start() that failed, or while start() is still running (its
 * context's signal is then aborted).
 */
export interface Component {
  /**
   * MUST return quickly; long-running work gets its own AbortSignal. Throws to
   * fail start-up with the cause only: the service names the component
   * (`failed to start "netfilter" receiver: <cause>`).
   */
  start(context: LifecycleContext): Promise<void>;
  /** Flushes what the component holds and releases what it opened, within `context.deadline`. */
  shutdown(context: LifecycleContext): Promise<void>;
  /**
   * Optional: false while a started component is degraded but running (e.g.
   * k8sattributes not yet synced with the Kubernetes API). The service
   * reports /readyz as not ready while any component says false.
   */
  readonly ready?: boolean;
  /**
   * Optional: called on a configuration reload (SIGHUP) when the component
   * carries over unchanged, after the swap. Reopen what an operator may have
   * rotated or replaced (a log file) without losing state; batches may arrive
   * meanwhile. A rejection is logged; the component keeps running.
   */
  reopen?(context: LifecycleContext): Promise<void>;
}

export interface Receiver extends Component {}
export interface Processor extends Component, FlowConsumer {}
export interface Exporter extends Component, FlowConsumer {}

interface FactoryBase<C> {
  type: string;
  stability: Stability;
  /** One line for `zonetap components`. */
  description: string;
  /**
   * Zod schema of the component's config, the one source of its defaults.
   * MUST be a strict object (unknown keys rejected) whose fields have defaults
   * where the Collector would have one; `schema.parse({})` is the default
   * config when every field has a default. Cross-field checks go in
   * `.superRefine` with the path of the offending key.
   */
  configSchema: z.ZodType<C>;
}

export interface ReceiverFactory<C = unknown> extends FactoryBase<C> {
  kind: 'receiver';
  create(settings: ComponentSettings, config: C, next: FlowConsumer): Receiver;
}
export interface ProcessorFactory<C = unknown> extends FactoryBase<C> {
  kind: 'processor';
  create(settings: ComponentSettings, config: C, next: FlowConsumer): Processor;
}
export interface ExporterFactory<C = unknown> extends FactoryBase<C> {
  kind: 'exporter';
  create(settings: ComponentSettings, config: C): Exporter;
}

export type Factory = ReceiverFactory<any> | ProcessorFactory<any> | ExporterFactory<any>;
