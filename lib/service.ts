/**
 * createService: what an embedder calls instead of `zonetap run`. Validates
 * the configuration against the built-in components plus the embedder's own,
 * and hands back a service that is started and stopped in code. Nothing is
 * started, bound or opened until start().
 */
import type { Logger } from 'pino';
import { FACTORIES } from '../cli/factories.ts';
import type { Factory } from '../pipeline/component.ts';
import { configFromObject, parseConfig, INLINE_CONFIG_NAME } from '../pipeline/config/load.ts';
import { createLogger } from '../pipeline/logging.ts';
import { FactoryRegistry } from '../pipeline/registry.ts';
import { Service } from '../pipeline/service.ts';

export interface CreateServiceOptions {
  /**
   * The configuration, as in a zonetap YAML file: YAML text (`${env:NAME}` is
   * replaced from `env`), or a plain object with the same shape
   * (`{ receivers, processors, exporters, service }`, taken as it is).
   */
  config: string | Readonly<Record<string, unknown>>;
  /**
   * The embedder's own receivers, processors and exporters, registered beside
   * the built-in ones: configs name them by `type` like any built-in. A type
   * MUST NOT repeat a built-in type of the same kind (createService throws).
   */
  components?: readonly Factory[];
  /** Where `${env:NAME}` in YAML text is looked up. Default: `process.env`. */
  env?: NodeJS.ProcessEnv;
  /** What configuration problems call the configuration, e.g. the file it came from. Default: `<config>`. */
  configName?: string;
  /** The service's log (pino). Default: JSON lines on stderr at `service.telemetry.logs.level`. */
  logger?: Logger;
  /**
   * The one deadline of shutdown(), in milliseconds: every component gets it
   * to budget its flush against, and shutdown() stops waiting for components
   * that ignore it. Default: 10 000 (as `zonetap run --shutdown-timeout 10s`).
   */
  shutdownTimeoutMs?: number;
}

/** A running zonetap: the pipelines of one configuration. */
export interface ZonetapService {
  /**
   * Starts the telemetry server (unless `service.telemetry.metrics.endpoint`
   * is `none`), then exporters, processors and receivers. Rejects with a
   * ZonetapError naming the component that failed (`failed to start "replay"
   * receiver: ...`), after shutting down what had started. Call it once.
   */
  start(): Promise<void>;
  /**
   * Stops receivers, then processors, then exporters, each flushing what it
   * holds, within `shutdownTimeoutMs`. Idempotent (every call returns the first
   * call's promise); safe before start(). Resolves true when everything
   * stopped cleanly in time, false otherwise (the reasons are logged).
   */
  shutdown(): Promise<boolean>;
  /** True once every component has started and none reports itself degraded; false from the start of shutdown. */
  readonly ready: boolean;
  /** Where /metrics, /healthz and /readyz are served once started; undefined with the endpoint `none`. */
  readonly telemetryAddress: { host: string; port: number } | undefined;
  /** Configuration warnings (components no pipeline uses), also logged at start-up. */
  readonly warnings: readonly string[];
}

/**
 * Builds a service from a configuration, without starting anything.
 * @throws ConfigError (code ZT_CONFIG_READ or ZT_CONFIG_INVALID) listing every problem, as `zonetap validate` prints them.
 * @throws Error when a custom component repeats a type of its kind.
 */
export function createService(options: CreateServiceOptions): ZonetapService {
  const registry = new FactoryRegistry([...FACTORIES, ...(options.components ?? [])]);
  const name = options.configName ?? INLINE_CONFIG_NAME;
  const config =
    typeof options.config === 'string'
      ? parseConfig(options.config, registry, { name, env: options.env })
      : configFromObject(options.config, registry, name);
  const logger = options.logger ?? createLogger(config.telemetry.logLevel);
  for (const w of config.warnings) logger.warn(`configuration: ${w}`);
  const service = new Service(config, registry, { logger, shutdownTimeoutMs: options.shutdownTimeoutMs });
  return {
    start: () => service.start(),
    shutdown: () => service.shutdown(),
    get ready() {
      return service.ready;
    },
    get telemetryAddress() {
      return service.telemetryAddress;
    },
    warnings: config.warnings,
  };
}
