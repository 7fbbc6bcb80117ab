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

/** Something that accepts flow batches: a processor, an exporter, or the fan-out in front of them. */
export interface FlowConsumer {
  /**
   * Takes one batch. MUST NOT keep a reference to the batch after the returned
   * promise settles unless it declared `mutatesData` (then it owns the batch).
   * Rejects only for errors the caller should count as dropped records.
   */
  consume(batch: FlowBatch): Promise<void>;
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

export interface Component {
  /** MUST return quickly; long-running work gets its own AbortSignal. Throws to fail start-up. */
  start(): Promise<void>;
  /** MUST be idempotent, safe without start(), and flush what the component holds. */
  shutdown(): Promise<void>;
  /**
   * Optional: false while a started component is degraded but running (e.g.
   * k8sattributes not yet synced with the Kubernetes API). The service MAY
   * report /readyz as not ready while any component says false.
   */
  readonly ready?: boolean;
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
   * Zod schema of the component's config. MUST be a strict object (unknown keys
   * rejected) whose fields all have defaults where the Collector would have one;
   * `schema.parse({})` is the default config when every field has a default.
   * Cross-field checks go in `.superRefine` with the path of the offending key.
   */
  configSchema: z.ZodType<C>;
  createDefaultConfig(): unknown;
  /** True when consume() changes the batch in place (fan-out then hands it a clone). */
  mutatesData?: boolean;
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
