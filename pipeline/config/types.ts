/** The validated configuration handed to the Service. */
import type { ComponentKind } from '../component.ts';

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
/** `json`: one JSON object a line, for log collectors; `console`: one human-readable line each, for a terminal. */
export const LOG_ENCODINGS = ['json', 'console'] as const;
export type LogEncoding = (typeof LOG_ENCODINGS)[number];

/** Default address of zonetap's own /metrics, /healthz and /readyz. */
export const DEFAULT_TELEMETRY_ENDPOINT = '127.0.0.1:8888';

/** One configured component: `type` or `type/name` and its parsed (defaulted, frozen) config. */
export interface ComponentConfig {
  id: string;
  kind: ComponentKind;
  type: string;
  config: unknown;
}

/** `flows` or `flows/<name>`: component IDs in order. */
export interface PipelineConfig {
  id: string;
  receivers: readonly string[];
  processors: readonly string[];
  exporters: readonly string[];
}

export interface TelemetryConfig {
  /** `host:port` of the telemetry server (port 0: any free port), or null for `none` (no server). */
  metricsEndpoint: string | null;
  logLevel: LogLevel;
  logEncoding: LogEncoding;
}

export interface ServiceConfig {
  /** The files the configuration was merged from, in order. */
  files: readonly string[];
  receivers: ReadonlyMap<string, ComponentConfig>;
  processors: ReadonlyMap<string, ComponentConfig>;
  exporters: ReadonlyMap<string, ComponentConfig>;
  pipelines: ReadonlyMap<string, PipelineConfig>;
  telemetry: TelemetryConfig;
  /** Things that are allowed but probably unintended (a component no pipeline uses), formatted like problems. */
  warnings: readonly string[];
}
