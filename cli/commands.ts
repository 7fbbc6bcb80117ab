/**
 * The zonetap commands, loaded by main.ts once it has caught the signals `run` handles:
 *   zonetap run --config FILE [--config FILE]... [--log-level L] [--shutdown-timeout 10s]
 *   zonetap validate --config FILE [--config FILE]...
 *   zonetap components
 *   zonetap demo [...]
 *   zonetap --version | --help
 * Exit codes and error codes: cli/README.md.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { ParseArgsConfig } from 'node:util';
import { loadConfig } from '../pipeline/config/load.ts';
import { ConfigError } from '../pipeline/config/problems.ts';
import { LOG_LEVELS } from '../pipeline/config/types.ts';
import type { LogLevel } from '../pipeline/config/types.ts';
import { ZonetapError } from '../pipeline/errors.ts';
import { FactoryRegistry } from '../pipeline/registry.ts';
import { EXIT, describeError, runService } from './run.ts';
import type { SignalInbox } from './signals.ts';
import { parseDuration } from '../pipeline/schema.ts';
import { VERSION } from '../pipeline/version.ts';
import { componentTable } from './components.ts';

const USAGE = `zonetap ${VERSION}: count Kubernetes cross-zone traffic with eBPF, export to Prometheus, OTLP and flow logs.

Usage:
  zonetap run --config FILE [--config FILE]...        run the pipelines (later files override earlier ones)
  zonetap validate --config FILE [--config FILE]...   check a configuration and print every problem
  zonetap components                                  list the receivers, processors and exporters built in
  zonetap demo                                        run the simulated multi-zone cluster demo
  zonetap --version                                   print the version
  zonetap --help                                      print this help

Options of run and validate:
  -c, --config FILE            configuration file (YAML); repeat to merge several
      --log-level LEVEL        trace|debug|info|warn|error|fatal|silent (overrides service.telemetry.logs.level)
      --shutdown-timeout DUR   how long a graceful shutdown may take, like 10s (run only; default 10s)

Signals (run): SIGTERM or SIGINT shut down gracefully; SIGHUP reloads the configuration files.
Exit codes: 0 ok, 1 start-up or shutdown failed, 2 bad command line or configuration.
`;

const CONFIG_OPTIONS = {
  config: { type: 'string', short: 'c', multiple: true },
  'log-level': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies ParseArgsConfig['options'];

function usageError(message: string, command?: string): never {
  throw new ZonetapError('ZT_USAGE', `${message}; see zonetap ${command ? `${command} ` : ''}--help`);
}

/** parseArgs in strict mode, with errors that say what was wrong in zonetap's words. */
function parse<O extends NonNullable<ParseArgsConfig['options']>>(args: string[], options: O, command?: string) {
  try {
    return parseArgs({ args, options, strict: true, allowPositionals: false }).values;
  } catch (err) {
    const e = err as Error & { code?: string };
    const quoted = /'([^']+)'/.exec(e.message)?.[1];
    switch (e.code) {
      case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
        return usageError(`unknown flag ${quoted}`, command);
      case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE': {
        const flag = /--[\w-]+/.exec(quoted ?? '')?.[0] ?? quoted;
        return usageError(e.message.includes('does not take') ? `flag ${flag} takes no value` : `flag ${flag} needs a value`, command);
      }
      case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL':
        return usageError(`unexpected argument "${quoted}"`, command);
      default:
        return usageError(e.message, command);
    }
  }
}

function configPaths(values: { config?: string[] }, command: string): string[] {
  if (!values.config || values.config.length === 0) usageError(`zonetap ${command} needs --config FILE`, command);
  return values.config;
}

function logLevel(value: string | undefined, command: string): LogLevel | undefined {
  if (value === undefined) return undefined;
  if (!(LOG_LEVELS as readonly string[]).includes(value)) usageError(`invalid --log-level "${value}": expected one of ${LOG_LEVELS.join('|')}`, command);
  return value as LogLevel;
}

async function run(args: string[], inbox?: SignalInbox): Promise<number> {
  const values = parse(args, { ...CONFIG_OPTIONS, 'shutdown-timeout': { type: 'string' } }, 'run');
  if (values.help) return print(USAGE);
  let shutdownTimeoutMs: number | undefined;
  if (values['shutdown-timeout'] !== undefined) {
    shutdownTimeoutMs = parseDuration(values['shutdown-timeout']);
    if (!shutdownTimeoutMs) usageError(`invalid --shutdown-timeout "${values['shutdown-timeout']}": expected a duration like 10s`, 'run');
  }
  const paths = configPaths(values, 'run');
  const level = logLevel(values['log-level'], 'run');
  return runService(paths, builtInRegistry, { logLevel: level, shutdownTimeoutMs, inbox });
}

async function validate(args: string[]): Promise<number> {
  const values = parse(args, CONFIG_OPTIONS, 'validate');
  if (values.help) return print(USAGE);
  logLevel(values['log-level'], 'validate');
  try {
    const paths = configPaths(values, 'validate');
    const config = await loadConfig(paths, builtInRegistry);
    for (const w of config.warnings) process.stderr.write(`warning: ${w}\n`);
    return print('configuration is valid\n');
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(describeError(err));
    return EXIT.USAGE;
  }
}

async function demo(args: string[]): Promise<number> {
  const file = new URL('../sim/demo.ts', import.meta.url);
  if (!existsSync(fileURLToPath(file))) {
    process.stderr.write('zonetap: demo not built yet\n');
    return EXIT.FAILURE;
  }
  const mod = (await import(file.href)) as { runDemo(args: string[]): Promise<number> };
  return mod.runDemo(args);
}

function print(text: string): number {
  process.stdout.write(text);
  return EXIT.OK;
}

/** Every built-in factory. Imported on demand: components pull in gRPC, the Kubernetes client and more, which --version and --help do not need. */
async function builtInRegistry(): Promise<FactoryRegistry> {
  const { FACTORIES } = await import('./factories.ts');
  return new FactoryRegistry(FACTORIES);
}

/** Runs one command line; `inbox` holds the signals caught before this module was loaded (`run` only). */
export async function main(argv: string[], inbox?: SignalInbox): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'run':
      return run(rest, inbox);
    case 'validate':
      return validate(rest);
    case 'components':
      if (parse(rest, { help: { type: 'boolean', short: 'h' } }, 'components').help) return print(USAGE);
      return print(componentTable((await builtInRegistry()).all()));
    case 'demo':
      return demo(rest);
    case 'help':
      return print(USAGE);
    case undefined:
      process.stderr.write(USAGE);
      return EXIT.USAGE;
    default: {
      if (!command.startsWith('-')) usageError(`unknown command "${command}": expected run, validate, components or demo`);
      const values = parse(argv, { help: { type: 'boolean', short: 'h' }, version: { type: 'boolean', short: 'v' } });
      if (values.version) return print(`zonetap ${VERSION}\n`);
      return print(USAGE);
    }
  }
}

/** Writes, then exits: components may hold handles open (timers, sockets) that must not keep a finished command alive. */
async function exit(code: number): Promise<never> {
  await new Promise<void>((resolve) => process.stdout.write('', () => resolve()));
  process.exit(code);
}

/** What bin/zonetap does (through main.ts): run the command line and exit with its code. */
export async function runCommandLine(argv: string[], inbox?: SignalInbox): Promise<never> {
  try {
    return await exit(await main(argv, inbox));
  } catch (err) {
    process.stderr.write(describeError(err));
    return exit(err instanceof ZonetapError && err.code === 'ZT_USAGE' ? EXIT.USAGE : EXIT.FAILURE);
  }
}
