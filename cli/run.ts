/**
 * runService: what `zonetap run` does. Loads and validates the configuration,
 * starts the Service, and shuts it down gracefully on SIGTERM or SIGINT
 * (a second signal exits at once). Resolves with the process exit code.
 */
import { loadConfig } from '../pipeline/config/load.ts';
import { ConfigError } from '../pipeline/config/problems.ts';
import type { LogLevel } from '../pipeline/config/types.ts';
import { ZonetapError } from '../pipeline/errors.ts';
import { createLogger } from '../pipeline/logging.ts';
import type { FactoryRegistry } from '../pipeline/registry.ts';
import { Service } from '../pipeline/service.ts';

/** Exit codes of the zonetap command (documented in cli/README.md). */
export const EXIT = {
  OK: 0,
  /** Start-up failed, or shutdown did not finish cleanly within the deadline. */
  FAILURE: 1,
  /** Bad command line or configuration: nothing was started. */
  USAGE: 2,
  /** Second SIGINT / SIGTERM while shutting down: 128 + signal number. */
  FORCED_SIGINT: 130,
  FORCED_SIGTERM: 143,
} as const;

export interface RunOptions {
  /** Overrides service.telemetry.logs.level. */
  logLevel?: LogLevel;
  /** Shutdown deadline; default 10 s. */
  shutdownTimeoutMs?: number;
}

/** One line per problem, for people: `zonetap: CODE: message`. */
export function describeError(err: unknown): string {
  if (err instanceof ZonetapError) return `zonetap: ${err.code}: ${err.message}\n`;
  return `zonetap: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`;
}

export async function runService(paths: readonly string[], registry: FactoryRegistry, options: RunOptions = {}): Promise<number> {
  let config;
  try {
    config = await loadConfig(paths, registry);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(describeError(err));
      return EXIT.USAGE;
    }
    throw err;
  }
  const logger = createLogger(options.logLevel ?? config.telemetry.logLevel);
  for (const w of config.warnings) logger.warn(`configuration: ${w}`);
  const service = new Service(config, registry, { logger, shutdownTimeoutMs: options.shutdownTimeoutMs });

  let signalled: NodeJS.Signals | undefined;
  let resolveStopped!: (clean: boolean) => void;
  const stopped = new Promise<boolean>((resolve) => (resolveStopped = resolve));
  const onSignal = (signal: NodeJS.Signals) => {
    if (signalled) {
      logger.warn({ signal }, 'second signal during shutdown: exiting now');
      process.exit(signal === 'SIGINT' ? EXIT.FORCED_SIGINT : EXIT.FORCED_SIGTERM);
    }
    signalled = signal;
    logger.info({ signal }, 'shutting down: flushing exporters');
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
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  process.on('unhandledRejection', onRejection);
  process.on('uncaughtException', onException);
  try {
    try {
      await service.start();
    } catch (err) {
      if (signalled) return (await stopped) ? EXIT.OK : EXIT.FAILURE;
      // The message names the component and the cause; the stack is for debugging only.
      logger.debug({ err }, 'start-up failure details');
      logger.error({ code: err instanceof ZonetapError ? err.code : undefined }, err instanceof Error ? err.message : String(err));
      return EXIT.FAILURE;
    }
    return (await stopped) ? EXIT.OK : EXIT.FAILURE;
  } finally {
    clearInterval(keepAlive);
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
    process.off('unhandledRejection', onRejection);
    process.off('uncaughtException', onException);
  }
}
