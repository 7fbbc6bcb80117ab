/**
 * runService: what `zonetap run` does. Loads and validates the configuration,
 * starts the Service, reloads the configuration on SIGHUP, and shuts down
 * gracefully on SIGTERM or SIGINT (a second one exits at once). Resolves with
 * the process exit code.
 */
import type { Logger } from 'pino';
import { loadConfig } from '../pipeline/config/load.ts';
import type { RegistryFor } from '../pipeline/config/load.ts';
import { ConfigError } from '../pipeline/config/problems.ts';
import { sourceName } from '../pipeline/config/sources.ts';
import type { ConfigSource } from '../pipeline/config/sources.ts';
import type { LogLevel, ServiceConfig } from '../pipeline/config/types.ts';
import { ZonetapError } from '../pipeline/errors.ts';
import { defaultGates } from '../pipeline/feature-gates.ts';
import type { EnabledGates } from '../pipeline/feature-gates.ts';
import { LogOutput, createLogger } from '../pipeline/logging.ts';
import { Service } from '../pipeline/service.ts';
import { EXIT, describeError } from './exit.ts';
import { SignalInbox } from './signals.ts';
import type { HandledSignal } from './signals.ts';

export interface RunOptions {
  /** Overrides service.telemetry.logs.level. */
  logLevel?: LogLevel;
  /** Shutdown deadline; default 10 s. */
  shutdownTimeoutMs?: number;
  /** Signals caught before runService was loaded (main.ts); default: caught from now on. */
  inbox?: SignalInbox;
  /** From --feature-gates; default: the gates that are on by default. */
  featureGates?: EnabledGates;
}

const messageOf = (err: unknown) => (err instanceof Error ? err.message : String(err));

/**
 * Reloads on SIGHUP: one at a time, and several SIGHUPs during a reload make
 * one more. An invalid configuration, or one whose components fail to start,
 * leaves the running one in place (logged with every problem).
 */
class Reloader {
  readonly #sources: readonly ConfigSource[];
  readonly #registry: RegistryFor;
  readonly #logger: Logger;
  readonly #output: LogOutput;
  readonly #logLevel: LogLevel | undefined;
  #service: Service | undefined;
  #requested = false;
  #running: Promise<void> | undefined;

  constructor(sources: readonly ConfigSource[], registry: RegistryFor, logger: Logger, output: LogOutput, logLevel: LogLevel | undefined) {
    this.#sources = sources;
    this.#registry = registry;
    this.#logger = logger;
    this.#output = output;
    this.#logLevel = logLevel;
  }

  /** A SIGHUP: reload now if running, or once running. */
  request(): void {
    this.#requested = true;
    if (this.#service && !this.#running) this.#running = this.#drain();
  }

  /** The service has started: serve the SIGHUPs that came meanwhile. */
  running(service: Service): void {
    this.#service = service;
    if (this.#requested && !this.#running) this.#running = this.#drain();
  }

  /** No more reloads: shutdown began (the service ends a reload in progress itself). */
  stop(): void {
    this.#service = undefined;
  }

  async #drain(): Promise<void> {
    while (this.#requested && this.#service) {
      this.#requested = false;
      await this.#reload(this.#service);
    }
    this.#running = undefined;
  }

  async #reload(service: Service): Promise<void> {
    this.#logger.info({ files: this.#sources.map(sourceName) }, 'SIGHUP: reloading the configuration');
    let config: ServiceConfig;
    try {
      // Every source is read again as at start-up: files, env: and yaml: URIs, --set, ${file:...} references.
      config = await loadConfig(this.#sources, this.#registry);
    } catch (err) {
      const problems = err instanceof ConfigError ? err.lines : undefined;
      const code = err instanceof ZonetapError ? err.code : undefined;
      // The first line ("configuration is invalid (2 problems)"); the problems go in their own field.
      const summary = messageOf(err).split('\n')[0]!.replace(/:$/, '');
      this.#logger.error({ code, problems }, `configuration reload failed: ${summary}; the running configuration stays in place`);
      return;
    }
    if (!this.#service) return; // shutdown began while the files were read
    for (const w of config.warnings) this.#logger.warn(`configuration: ${w}`);
    try {
      const changes = await service.reload(config);
      this.#logger.level = this.#logLevel ?? config.telemetry.logLevel;
      await this.#output.use(config.telemetry.logEncoding);
      this.#logger.info(changes, 'configuration reloaded');
    } catch (err) {
      if (!this.#service) return this.#logger.info(`configuration reload interrupted by the shutdown: ${messageOf(err)}`);
      const code = err instanceof ZonetapError ? err.code : undefined;
      this.#logger.error({ code }, `configuration reload failed: ${messageOf(err)}`);
    }
  }
}

/**
 * `sources`: `--config` values and `--set` arguments, in order (pipeline/config/sources.ts).
 * `registry`: the factories, or a function that loads those a configuration uses
 * (the same registry, grown, on every call: the service keeps it).
 */
export async function runService(sources: readonly ConfigSource[], registry: RegistryFor, options: RunOptions = {}): Promise<number> {
  const inbox = options.inbox ?? new SignalInbox();
  // Until the configuration says otherwise: signals can come before it is read.
  const output = new LogOutput();
  const logger = createLogger(options.logLevel ?? 'info', output);
  const reloader = new Reloader(sources, registry, logger, output, options.logLevel);
  let service: Service | undefined;
  let signalled: HandledSignal | undefined;
  let resolveStopped!: (clean: boolean) => void;
  const stopped = new Promise<boolean>((resolve) => (resolveStopped = resolve));
  const onSignal = (signal: HandledSignal) => {
    if (signal === 'SIGHUP') return reloader.request();
    if (signalled) {
      logger.warn({ signal }, 'second signal during shutdown: exiting now');
      process.exit(signal === 'SIGINT' ? EXIT.FORCED_SIGINT : EXIT.FORCED_SIGTERM);
    }
    signalled = signal;
    if (!service) {
      logger.info({ signal }, 'signal before start-up: exiting without starting anything');
      return resolveStopped(true);
    }
    logger.info({ signal }, 'shutting down: flushing exporters');
    reloader.stop();
    service.shutdown().then(resolveStopped, () => resolveStopped(false));
  };
  // After start nothing may take the process down: log, and carry on.
  const onRejection = (reason: unknown) => logger.error({ err: reason }, 'unhandled promise rejection (ignored; please report it)');
  const onException = (err: Error) => {
    logger.fatal({ err }, 'uncaught exception: shutting down');
    if (!signalled) onSignal('SIGTERM');
  };
  // Run until signalled, even when no component holds the event loop open (telemetry `none`, a replay that has finished).
  const keepAlive = setInterval(() => {}, 2 ** 30);
  inbox.listen(onSignal);
  process.on('unhandledRejection', onRejection);
  process.on('uncaughtException', onException);
  try {
    let config: ServiceConfig;
    try {
      config = await loadConfig(sources, registry);
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      process.stderr.write(describeError(err));
      return EXIT.USAGE;
    }
    if (signalled) return EXIT.OK;
    logger.level = options.logLevel ?? config.telemetry.logLevel;
    await output.use(config.telemetry.logEncoding);
    for (const w of config.warnings) logger.warn(`configuration: ${w}`);
    // loadConfig has loaded what the configuration uses: asking for nothing more gives that registry.
    const factories = typeof registry === 'function' ? await registry([]) : registry;
    const processMetrics = (options.featureGates ?? defaultGates()).has('telemetry.processMetrics');
    service = new Service(config, factories, { logger, shutdownTimeoutMs: options.shutdownTimeoutMs, processMetrics });
    if (signalled) return EXIT.OK;
    try {
      await service.start();
    } catch (err) {
      if (signalled) return (await stopped) ? EXIT.OK : EXIT.FAILURE;
      // The message names the component and the cause; the stack is for debugging only.
      logger.debug({ err }, 'start-up failure details');
      logger.error({ code: err instanceof ZonetapError ? err.code : undefined }, messageOf(err));
      return EXIT.FAILURE;
    }
    if (!signalled) reloader.running(service);
    return (await stopped) ? EXIT.OK : EXIT.FAILURE;
  } finally {
    clearInterval(keepAlive);
    inbox.close();
    process.off('unhandledRejection', onRejection);
    process.off('uncaughtException', onException);
  }
}
