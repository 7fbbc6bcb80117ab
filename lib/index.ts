/**
 * zonetap as a library: the package's one entry point (`import ... from 'zonetap'`).
 *
 * Build a service from a configuration (YAML text or an object), with your
 * own receivers, processors and exporters beside the built-in ones, start it,
 * and shut it down within a deadline. Components follow the contract the
 * built-ins follow (README "Use as a library", pipeline/README.md): a factory
 * `{ kind, type, stability, description, configSchema, create }`, a config
 * schema built with the `z` exported here, start/shutdown with a
 * LifecycleContext, and FlowConsumers that declare whether they change the
 * batches they are given.
 *
 * Everything else in the repository is internal and may change in any release.
 */

// Building and running a service.
export { createService } from './service.ts';
export type { CreateServiceOptions, ZonetapService } from './service.ts';

// The component contract.
export { MUTATES_DATA, READ_ONLY } from '../pipeline/component.ts';
export type {
  Capabilities,
  Component,
  ComponentKind,
  ComponentSettings,
  Exporter,
  ExporterFactory,
  Factory,
  FlowConsumer,
  LifecycleContext,
  Processor,
  ProcessorFactory,
  Receiver,
  ReceiverFactory,
  Stability,
} from '../pipeline/component.ts';
export { batchProcessorFactory } from '../pipeline/batch-processor.ts';
export type { BatchFunction, BatchProcessorDefinition } from '../pipeline/batch-processor.ts';
export { remainingMs } from '../pipeline/lifecycle.ts';

// Config schemas: the zod that zonetap validates with, and its field types.
export { z } from 'zod';
export { duration, endpoint } from '../pipeline/schema.ts';

// The data model.
export { OVERFLOW_TRANSPORT, TRAFFIC_CLASSES, flowCount } from '../pipeline/flow.ts';
export { cloneBatch } from '../pipeline/columns.ts';
export type { FlowBatch, FlowColumns, FlowEndpoint, FlowRecord, IpFamily, TrafficClass, Transport, WorkloadKind } from '../pipeline/flow.ts';
export { recordAttributes } from '../pipeline/attributes.ts';
export type { AttributeValue, FlowAttributes } from '../pipeline/attributes.ts';

// Errors.
export { ERROR_CODES, ZonetapError } from '../pipeline/errors.ts';
export type { ErrorCode } from '../pipeline/errors.ts';
export { ConfigError } from '../pipeline/config/problems.ts';
export type { ConfigProblem, SourcePosition } from '../pipeline/config/problems.ts';

export { VERSION } from '../pipeline/version.ts';
export type { Logger } from 'pino';
