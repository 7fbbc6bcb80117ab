/** The help texts: `zonetap --help` and each command's `--help`. Imports nothing heavy. */
import { FEATURE_GATES } from '../pipeline/feature-gates.ts';
import { VERSION } from '../pipeline/version.ts';

export type CommandName = 'run' | 'validate' | 'components' | 'demo' | 'advise';
export const COMMANDS: readonly CommandName[] = ['run', 'validate', 'components', 'demo', 'advise'];

/** True when `argv` is the bare form of run (`zonetap --config x.yaml`): flags first, and not --version or --help. */
export function isBareRun(argv: readonly string[]): boolean {
  const first = argv[0];
  return first !== undefined && first.startsWith('-') && !['-v', '--version', '-h', '--help'].includes(first);
}

const HEADER = `zonetap ${VERSION}: count Kubernetes cross-zone traffic with eBPF, export to Prometheus, OTLP and flow logs.`;

const GENERAL = `${HEADER}

Usage:
  zonetap run --config SOURCE [--config SOURCE]... [--set KEY=VALUE]...   run the pipelines
  zonetap --config SOURCE ...                          the same as zonetap run (as otelcol runs)
  zonetap validate --config SOURCE ...                 check a configuration and print every problem
  zonetap components [--json]                          list the receivers, processors and exporters built in
  zonetap demo                                         run the simulated multi-zone cluster demo
  zonetap advise --flow-log FILE | --prometheus URL    the changes that would cut the most cross-zone cost
  zonetap --version                                    print the version
  zonetap --help                                       print this help
  zonetap COMMAND --help                               print a command's help

Exit codes: 0 ok, 1 start-up or shutdown failed, 2 bad command line or configuration.
`;

const SOURCES = `Configuration sources (--config), merged in the order given, later ones win (maps merge key by key,
lists and values are replaced); every --set comes after every --config:
  PATH, file:PATH      a YAML file
  env:NAME             YAML held by the environment variable NAME
  yaml:KEY::PATH: V    YAML on the command line; :: in a key nests, e.g. 'yaml:exporters::prometheus::endpoint: 0.0.0.0:9999'
Inside values: \${env:NAME}, \${env:NAME:-default} (used when NAME is unset), \${file:PATH} (the file's text), $$ for a literal $.`;

const CONFIG_OPTIONS = `  -c, --config SOURCE          configuration source (see below); repeat to merge several
      --set KEY::PATH=VALUE    set one value (read as YAML), applied after every --config, e.g.
                               --set exporters::prometheus::endpoint=0.0.0.0:9464
      --feature-gates LIST     enable (ID or +ID) or disable (-ID) feature gates, comma-separated
      --log-level LEVEL        trace|debug|info|warn|error|fatal|silent (overrides service.telemetry.logs.level)`;

function gates(): string {
  const width = Math.max(...FEATURE_GATES.map((g) => g.id.length));
  return FEATURE_GATES.map((g) => `  ${g.id.padEnd(width)}  ${g.stage.padEnd(6)}  ${g.description}`).join('\n');
}

const RUN = () => `${HEADER}

Usage: zonetap run --config SOURCE [--config SOURCE]... [options]
       zonetap --config SOURCE [--config SOURCE]... [options]

Loads and validates the configuration, starts every component and runs until stopped.

Options:
${CONFIG_OPTIONS}
      --shutdown-timeout DUR   how long a graceful shutdown may take, like 10s (default 10s)

${SOURCES}

Feature gates (alpha: off unless enabled; beta: on unless disabled; stable: always on):
${gates()}

Signals: SIGTERM or SIGINT shut down gracefully (a second one exits at once); SIGHUP reloads
the configuration, reading every source again.
Exit codes: 0 clean shutdown, 1 start-up or shutdown failed, 2 bad command line or configuration,
130/143 a second SIGINT/SIGTERM during shutdown.
`;

const VALIDATE = () => `${HEADER}

Usage: zonetap validate --config SOURCE [--config SOURCE]... [options]

Checks the configuration without starting anything: prints "configuration is valid" (exit 0), or
every problem, one a line, as SOURCE:LINE:COLUMN: KEY::PATH: MESSAGE (exit 2). Components that no
pipeline uses are warnings.

Options:
${CONFIG_OPTIONS}

${SOURCES}
`;

const COMPONENTS = `${HEADER}

Usage: zonetap components [--json]

Lists every built-in receiver, processor and exporter with its stability and a one-line description.

Options:
      --json    print JSON: {"version", "receivers", "processors", "exporters"}, each a list of
                {"type", "stability", "description"}
`;

const ADVISE = `${HEADER}

Usage: zonetap advise --flow-log FILE [options]
       zonetap advise --prometheus URL [--window 1h] [options]

Lists the changes that would cut the most cross-zone and cross-region cost, each with the monthly
dollars at stake and the flows or series it is computed from (rules: advice/README.md).

Options:
      --flow-log FILE          a flow log (the flowlog exporter's), read whole
      --prometheus URL         a Prometheus that scrapes zonetap, like http://prometheus:9090
      --window DUR             --prometheus: rates over this long (default 1h)
      --top N                  items listed, 1 to 100 (default 5)
      --format FORMAT          text (default), json or html

Exit codes: 0 ok, 1 the input could not be read (ZT_ADVICE_INPUT), 2 bad command line.
`;

/** The help of `command`, or the general help; `zonetap demo --help` is the demo's own (sim/demo.ts). */
export function usage(command?: Exclude<CommandName, 'demo'>): string {
  switch (command) {
    case 'run':
      return RUN();
    case 'validate':
      return VALIDATE();
    case 'components':
      return COMPONENTS;
    case 'advise':
      return ADVISE;
    default:
      return GENERAL;
  }
}
