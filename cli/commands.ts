/**
 * The zonetap commands, loaded by main.ts once it has caught the signals `run` handles:
 *   zonetap run --config SOURCE [--config SOURCE]... [--set KEY=VALUE]... [--feature-gates LIST] [--log-level L] [--shutdown-timeout 10s]
 *   zonetap --config SOURCE ...    (the same as run, as otelcol runs)
 *   zonetap validate --config SOURCE [--config SOURCE]... [--set KEY=VALUE]...
 *   zonetap components [--json]
 *   zonetap demo [...]
 *   zonetap advise --flow-log FILE | --prometheus URL [--window 1h] [--top 5] [--format text|json|html]
 *   zonetap --version | --help | COMMAND --help
 * Exit codes and error codes: cli/README.md.
 *
 * Only the command line is parsed here: the configuration, the pipeline and
 * the components are imported when a command needs them, so `--version`,
 * `--help` and usage errors load none of them.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { ParseArgsConfig } from 'node:util';
import type { ConfigSource } from '../pipeline/config/sources.ts';
import { LOG_LEVELS } from '../pipeline/config/types.ts';
import type { LogLevel } from '../pipeline/config/types.ts';
import { ZonetapError } from '../pipeline/errors.ts';
import { parseFeatureGates } from '../pipeline/feature-gates.ts';
import { VERSION } from '../pipeline/version.ts';
import { BuiltInFactories } from './catalogue.ts';
import { EXIT, describeError } from './exit.ts';
import type { SignalInbox } from './signals.ts';
import { COMMANDS, isBareRun, usage } from './usage.ts';
import type { CommandName } from './usage.ts';

const HELP = { help: { type: 'boolean', short: 'h' } } as const;
const CONFIG_OPTIONS = {
  config: { type: 'string', short: 'c', multiple: true },
  set: { type: 'string', multiple: true },
  'feature-gates': { type: 'string', multiple: true },
  'log-level': { type: 'string' },
  ...HELP,
} as const satisfies ParseArgsConfig['options'];
const RUN_OPTIONS = { ...CONFIG_OPTIONS, 'shutdown-timeout': { type: 'string' } } as const satisfies ParseArgsConfig['options'];

/** `command` names the help a usage error points to; undefined: the general help. */
function usageError(message: string, command?: CommandName): never {
  throw new ZonetapError('ZT_USAGE', `${message}; see zonetap ${command ? `${command} ` : ''}--help`);
}

/** parseArgs in strict mode, with errors that say what was wrong in zonetap's words. */
function parse<O extends NonNullable<ParseArgsConfig['options']>>(args: string[], options: O, command?: CommandName) {
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
        // A value that starts with "-" is taken for a flag: `--feature-gates -id` must be written `--feature-gates=-id`.
        const hint = flag === '--feature-gates' ? ' (to disable a gate, write --feature-gates=-ID)' : '';
        return usageError(e.message.includes('does not take') ? `flag ${flag} takes no value` : `flag ${flag} needs a value${hint}`, command);
      }
      case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL':
        return usageError(`unexpected argument "${quoted}"`, command);
      default:
        return usageError(e.message, command);
    }
  }
}

interface ConfigValues {
  config?: string[];
  set?: string[];
  'feature-gates'?: string[];
  'log-level'?: string;
}

/** What run and validate share: the sources (every --config, then every --set), the log level and the feature gates, checked. */
async function configArguments(values: ConfigValues, command: CommandName, shown: CommandName | undefined) {
  const wrap = <T>(check: () => T): T => {
    try {
      return check();
    } catch (err) {
      if (err instanceof ZonetapError && err.code === 'ZT_USAGE') usageError(err.message, shown);
      throw err;
    }
  };
  const featureGates = wrap(() => parseFeatureGates(values['feature-gates'] ?? []));
  const level = values['log-level'];
  if (level !== undefined && !(LOG_LEVELS as readonly string[]).includes(level)) {
    usageError(`invalid --log-level "${level}": expected one of ${LOG_LEVELS.join('|')}`, shown);
  }
  if (!values.config || values.config.length === 0) usageError(`zonetap ${command} needs --config FILE`, shown);
  const { setSource } = await import('../pipeline/config/sources.ts');
  const sets = wrap(() => (values.set ?? []).map(setSource));
  const sources: ConfigSource[] = [...values.config, ...sets];
  return { sources, featureGates, logLevel: level as LogLevel | undefined };
}

/** `zonetap run`, or the bare form `zonetap --config ...` (`shown` is then undefined: errors point to the general help). */
async function run(args: string[], inbox: SignalInbox | undefined, shown: CommandName | undefined): Promise<number> {
  const values = parse(args, RUN_OPTIONS, shown);
  if (values.help) return print(usage('run'));
  let shutdownTimeoutMs: number | undefined;
  if (values['shutdown-timeout'] !== undefined) {
    const { parseDuration } = await import('../pipeline/schema.ts');
    shutdownTimeoutMs = parseDuration(values['shutdown-timeout']);
    if (!shutdownTimeoutMs) usageError(`invalid --shutdown-timeout "${values['shutdown-timeout']}": expected a duration like 10s`, shown);
  }
  const { sources, featureGates, logLevel } = await configArguments(values, 'run', shown);
  const { runService } = await import('./run.ts');
  const factories = new BuiltInFactories();
  return runService(sources, (used) => factories.registryFor(used), { logLevel, shutdownTimeoutMs, inbox, featureGates });
}

async function validate(args: string[]): Promise<number> {
  const values = parse(args, CONFIG_OPTIONS, 'validate');
  if (values.help) return print(usage('validate'));
  const { sources } = await configArguments(values, 'validate', 'validate');
  const { loadConfig } = await import('../pipeline/config/load.ts');
  const { ConfigError } = await import('../pipeline/config/problems.ts');
  const factories = new BuiltInFactories();
  try {
    // The configuration schemas only: validation creates no component.
    const config = await loadConfig(sources, (used) => factories.schemasFor(used));
    for (const w of config.warnings) process.stderr.write(`warning: ${w}\n`);
    return print('configuration is valid\n');
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(describeError(err));
    return EXIT.USAGE;
  }
}

async function components(args: string[]): Promise<number> {
  const values = parse(args, { ...HELP, json: { type: 'boolean' } }, 'components');
  if (values.help) return print(usage('components'));
  const { componentJson, componentTable } = await import('./components.ts');
  const all = await new BuiltInFactories().all();
  return print(values.json ? componentJson(all, VERSION) : componentTable(all));
}

const ADVISE_OPTIONS = {
  'flow-log': { type: 'string' },
  prometheus: { type: 'string' },
  window: { type: 'string' },
  top: { type: 'string' },
  format: { type: 'string' },
  ...HELP,
} as const satisfies ParseArgsConfig['options'];

async function advise(args: string[]): Promise<number> {
  const values = parse(args, ADVISE_OPTIONS, 'advise');
  if (values.help) return print(usage('advise'));
  const { adviseCommand } = await import('./advise.ts');
  return print(await adviseCommand(values, (message) => usageError(message, 'advise')));
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

/** `zonetap help [COMMAND]`. */
function help(args: string[]): Promise<number> | number {
  const [command, ...extra] = args;
  if (extra.length > 0) usageError(`unexpected argument "${extra[0]}"`);
  if (command === undefined) return print(usage());
  if (!(COMMANDS as readonly string[]).includes(command)) usageError(`unknown command "${command}": expected ${COMMANDS.join(', ')}`);
  return command === 'demo' ? demo(['--help']) : print(usage(command as Exclude<CommandName, 'demo'>));
}

/** Runs one command line; `inbox` holds the signals caught before this module was loaded (`run` only). */
export async function main(argv: string[], inbox?: SignalInbox): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'run':
      return run(rest, inbox, 'run');
    case 'validate':
      return validate(rest);
    case 'components':
      return components(rest);
    case 'demo':
      return demo(rest);
    case 'advise':
      return advise(rest);
    case 'help':
      return help(rest);
    case undefined:
      process.stderr.write(usage());
      return EXIT.USAGE;
    default: {
      if (!command.startsWith('-')) usageError(`unknown command "${command}": expected run, validate, components, demo or advise`);
      if (isBareRun(argv)) return run(argv, inbox, undefined);
      const values = parse(argv, { ...HELP, version: { type: 'boolean', short: 'v' } });
      if (values.version) return print(`zonetap ${VERSION}\n`);
      return print(usage());
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
