/**
 * The pipeline core's public surface: configuration loading, the Service that
 * runs a configuration, and the component model. Keep these names stable:
 * receivers, processors, exporters, sim and cli import them.
 *
 * - loadConfig(paths, registry): Promise<ServiceConfig>; throws ConfigError
 *   (a ZonetapError, code ZT_CONFIG_READ or ZT_CONFIG_INVALID) listing every problem.
 * - new Service(config, registry, options): start(), shutdown(), ready.
 * - runService(paths, registry, options): what `zonetap run` does; resolves with the exit code.
 */
export { loadConfig } from './config/load.ts';
export type { LoadOptions } from './config/load.ts';
export { ConfigError, formatProblem } from './config/problems.ts';
export type { ConfigProblem, SourcePosition } from './config/problems.ts';
export { DEFAULT_TELEMETRY_ENDPOINT, LOG_LEVELS } from './config/types.ts';
export type { ComponentConfig, LogLevel, PipelineConfig, ServiceConfig, TelemetryConfig } from './config/types.ts';
export { Service, DEFAULT_SHUTDOWN_TIMEOUT_MS } from './service.ts';
export type { ServiceOptions } from './service.ts';
export { runService, describeError, EXIT } from './run.ts';
export type { RunOptions } from './run.ts';
export { METRIC_NAMES } from './telemetry/metrics.ts';
export { createLogger } from './logging.ts';
export { VERSION } from './version.ts';
export { FactoryRegistry } from './registry.ts';
export { ZonetapError, ERROR_CODES } from './errors.ts';
export type { ErrorCode } from './errors.ts';
export { cloneBatch } from './flow.ts';
export type { FlowBatch, FlowRecord, FlowEndpoint, TrafficClass, IpFamily } from './flow.ts';
export type {
  Component,
  ComponentKind,
  ComponentSettings,
  Exporter,
  ExporterFactory,
  Factory,
  FlowConsumer,
  Processor,
  ProcessorFactory,
  Receiver,
  ReceiverFactory,
  Stability,
} from './component.ts';
