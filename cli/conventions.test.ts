/**
 * The command line as an OpenTelemetry Collector user types it, through
 * bin/zonetap: the bare `zonetap --config`, config URIs and --set with their
 * precedence and errors, --feature-gates, per-command help, components
 * --json, logs.encoding, the process metrics on /metrics, and a SIGHUP that
 * reads every source again.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { freePort } from '../test/support/loopback.ts';
import { until } from '../test/support/poll.ts';
import { samplesOf, scrapeMetrics } from '../test/support/prometheus.ts';
import { REPO as root, run, startProgram, ZONETAP as zonetap } from '../test/support/processes.ts';

const flows = join(root, 'pipeline/config/testdata/flows.jsonl');
const cli = (args: string[], env: NodeJS.ProcessEnv = process.env) => run(zonetap, args, { cwd: root, env, timeoutMs: 60_000 });
let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'zt-conventions-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function file(name: string, text: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, text);
  return path;
}

/** replay -> flowlog, telemetry on `telemetry` (none by default). */
const replayFlowlog = (name: string, telemetry = 'none') =>
  file(
    `${name}.yaml`,
    `receivers: { replay: { path: ${flows}, interval: 1s, loop: true } }
exporters: { flowlog: { path: ${join(dir, `${name}.jsonl`)} } }
service:
  pipelines: { flows: { receivers: [replay], exporters: [flowlog] } }
  telemetry: { metrics: { endpoint: "${telemetry}" } }
`,
  );

/** bin/zonetap running `args`; logged(m) resolves once stderr holds m. */
function start(args: string[], env: NodeJS.ProcessEnv = process.env) {
  const program = startProgram(zonetap, args, { cwd: root, env });
  const logged = (text: string | RegExp) =>
    until(
      `log ${String(text)}`,
      () => {
        assert.deepEqual([program.child.exitCode, program.child.signalCode], [null, null], `exited before logging ${String(text)}:\n${program.output()}`);
        return typeof text === 'string' ? program.output().includes(text) : text.test(program.output());
      },
      { details: program.output },
    );
  return { ...program, logged };
}

describe('zonetap --config (no subcommand) runs as zonetap run does', () => {
  it('starts, serves its telemetry, and shuts down on SIGTERM with exit 0', async () => {
    const port = await freePort();
    const config = await replayFlowlog('bare', `127.0.0.1:${port}`);
    const program = start(['--config', config]);
    try {
      await program.logged('"msg":"zonetap is ready"');
      const samples = await scrapeMetrics(`127.0.0.1:${port}`);
      assert.equal(samplesOf(samples, 'zonetap_build_info').length, 1);
      assert.equal(await program.stop('SIGTERM'), 0, program.output());
    } finally {
      await program.stop('SIGKILL');
    }
  });

  it('takes run\'s flags and help; its usage errors point to zonetap --help', async () => {
    const help = await cli(['--config', 'x.yaml', '--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /\nUsage: zonetap run --config SOURCE/);
    assert.deepEqual(await cli(['--config', 'x.yaml', '--shutdown-timeout', 'soon']), {
      code: 2,
      stdout: '',
      stderr: 'zonetap: ZT_USAGE: invalid --shutdown-timeout "soon": expected a duration like 10s; see zonetap --help\n',
    });
    assert.deepEqual(await cli(['--confg', 'x.yaml']), { code: 2, stdout: '', stderr: 'zonetap: ZT_USAGE: unknown flag --confg; see zonetap --help\n' });
  });
});

describe('configuration sources on the command line', () => {
  it('--set and yaml: override files; --set applies after every --config wherever it is written; problems name the source', async () => {
    const config = await replayFlowlog('precedence');
    const broken = await file('broken-endpoint.yaml', 'service:\n  telemetry:\n    metrics:\n      endpoint: nowhere\n');
    const invalid = (where: string) => ({
      code: 2,
      stdout: '',
      stderr:
        'zonetap: ZT_CONFIG_INVALID: configuration is invalid (1 problem):\n' +
        `  ${where}: service::telemetry::metrics::endpoint: invalid endpoint "nowhere": expected host:port, like 127.0.0.1:8888 or [::1]:8888, or none\n`,
    });
    const valid = { code: 0, stdout: 'configuration is valid\n', stderr: '' };
    assert.deepEqual(await cli(['validate', '-c', config, '-c', broken]), invalid(`${broken}:4:7`));
    assert.deepEqual(await cli(['validate', '-c', config, '-c', broken, '--set', 'service::telemetry::metrics::endpoint=none']), valid);
    assert.deepEqual(await cli(['validate', '-c', config, '-c', broken, '-c', 'yaml:service::telemetry::metrics::endpoint: 127.0.0.1:0']), valid);
    // Written first, --set still comes last: it breaks what the yaml: URI fixed.
    const set = '--set service::telemetry::metrics::endpoint=nowhere';
    assert.deepEqual(await cli(['validate', ...set.split(' '), '-c', config, '-c', 'yaml:service::telemetry::metrics::endpoint: 127.0.0.1:0']), invalid(set));
    // env: reads YAML from a variable, line:column inside it.
    const env = { ...process.env, ZT_EXTRA: 'service:\n  telemetry:\n    metrics:\n      endpoint: nowhere\n' };
    assert.deepEqual(await cli(['validate', '-c', config, '-c', 'env:ZT_EXTRA'], env), invalid('env:ZT_EXTRA:4:7'));
  });

  it('${env:NAME:-default} and ${file:PATH} in values', async () => {
    const level = await file('level', 'debug\n');
    const config = await file(
      'references.yaml',
      `receivers: { replay: { path: "\${env:ZT_FLOWS:-${flows}}" } }
exporters: { flowlog: { path: ${join(dir, 'references.jsonl')} } }
service:
  pipelines: { flows: { receivers: [replay], exporters: [flowlog] } }
  telemetry: { metrics: { endpoint: none }, logs: { level: "\${file:${level}}" } }
`,
    );
    assert.deepEqual(await cli(['validate', '-c', config]), { code: 0, stdout: 'configuration is valid\n', stderr: '' });
    const missing = join(dir, 'missing.jsonl');
    const r = await cli(['validate', '-c', config], { ...process.env, ZT_FLOWS: missing });
    assert.equal(r.code, 2);
    assert.match(r.stderr, new RegExp(`references\\.yaml:1:24: receivers::replay::path: .*${missing.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
  });

  it('a malformed --set, an unknown scheme and an unknown feature gate end with exit 2 naming the argument', async () => {
    const config = await replayFlowlog('errors');
    for (const command of [['run'], ['validate'], []]) {
      const see = command.length ? `zonetap ${command[0]} --help` : 'zonetap --help';
      assert.deepEqual(await cli([...command, '-c', config, '--set', 'receivers::replay::interval']), {
        code: 2,
        stdout: '',
        stderr: `zonetap: ZT_USAGE: invalid --set "receivers::replay::interval": no "="; expected KEY::PATH=VALUE, like exporters::prometheus::endpoint=0.0.0.0:9464; see ${see}\n`,
      });
      assert.deepEqual(await cli([...command, '-c', config, '--set', 'receivers::::interval=1s']), {
        code: 2,
        stdout: '',
        stderr: `zonetap: ZT_USAGE: invalid --set "receivers::::interval=1s": the key has an empty part between "::"; expected KEY::PATH=VALUE, like exporters::prometheus::endpoint=0.0.0.0:9464; see ${see}\n`,
      });
      assert.deepEqual(await cli([...command, '-c', config, '--feature-gates', 'telemetry.processMetrics,-telemetry.noSuchGate']), {
        code: 2,
        stdout: '',
        stderr: `zonetap: ZT_USAGE: unknown feature gate "telemetry.noSuchGate" in --feature-gates; known gates: telemetry.processMetrics; see ${see}\n`,
      });
    }
    assert.deepEqual(await cli(['run', '-c', config, '--feature-gates', '-telemetry.processMetrics']), {
      code: 2,
      stdout: '',
      stderr: 'zonetap: ZT_USAGE: flag --feature-gates needs a value (to disable a gate, write --feature-gates=-ID); see zonetap run --help\n',
    });
    assert.deepEqual(await cli(['validate', '-c', 'http://config.example/zonetap.yaml']), {
      code: 2,
      stdout: '',
      stderr:
        'zonetap: ZT_CONFIG_READ: configuration could not be read (1 problem):\n' +
        '  http://config.example/zonetap.yaml: unsupported configuration URI scheme "http:": use file:, env:, yaml: or a plain path (./http://config.example/zonetap.yaml for a file)\n',
    });
  });
});

describe('self-telemetry and logs', () => {
  it('/metrics carries the process metrics, unless --feature-gates=-telemetry.processMetrics', async () => {
    for (const gates of [[], ['--feature-gates=-telemetry.processMetrics']]) {
      const port = await freePort();
      const config = await replayFlowlog(`process-${gates.length}`, `127.0.0.1:${port}`);
      const program = start(['run', '-c', config, ...gates]);
      try {
        await program.logged('"msg":"zonetap is ready"');
        const samples = await scrapeMetrics(`127.0.0.1:${port}`);
        assert.equal(samplesOf(samples, 'zonetap_build_info').length, 1, 'zonetap\'s own metrics are served either way');
        const processSamples = samples.filter((s) => s.name.startsWith('process_') || s.name.startsWith('nodejs_'));
        if (gates.length > 0) {
          assert.deepEqual(processSamples, []);
        } else {
          const value = (name: string) => samplesOf(samples, name)[0]?.value;
          assert.ok(value('process_cpu_seconds_total')! > 0, 'CPU seconds');
          assert.ok(value('process_resident_memory_bytes')! > 10 * 1024 * 1024, 'resident memory');
          const started = value('process_start_time_seconds')!;
          assert.ok(Math.abs(started - Date.now() / 1000) < 600, `start time ${started}`);
          assert.ok(value('process_open_fds')! > 0, 'open file descriptors');
          assert.ok(samplesOf(samples, 'nodejs_heap_size_used_bytes').length === 1, 'Node.js heap');
        }
      } finally {
        await program.stop();
      }
    }
  });

  it('service.telemetry.logs.encoding: json lines by default, human-readable lines with console', async () => {
    const config = await replayFlowlog('encoding');
    const json = start(['run', '-c', config]);
    try {
      await json.logged('zonetap is ready');
    } finally {
      await json.stop();
    }
    const lines = json.output().trim().split('\n');
    for (const line of lines) assert.doesNotThrow(() => JSON.parse(line), line);
    const console = start(['run', '-c', config, '--set', 'service::telemetry::logs::encoding=console']);
    try {
      await console.logged(/^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}\] INFO: zonetap is ready \{"receivers":1,"processors":0,"exporters":1,"pipelines":\["flows"\]\}$/m);
    } finally {
      await console.stop();
    }
    assert.ok(!console.output().includes('"msg":'), console.output());
    assert.deepEqual(await cli(['validate', '-c', config, '--set', 'service::telemetry::logs::encoding=text']), {
      code: 2,
      stdout: '',
      stderr:
        'zonetap: ZT_CONFIG_INVALID: configuration is invalid (1 problem):\n' +
        '  --set service::telemetry::logs::encoding=text: service::telemetry::logs::encoding: invalid option "text": expected one of json|console\n',
    });
  });
});

describe('SIGHUP reads every source again', () => {
  it('a file: source and a ${file:...} reference are read again; --set still applies last', async () => {
    const interval = await file('interval', '1s\n');
    const base = await file(
      'reload-base.yaml',
      `receivers: { replay: { path: ${flows}, interval: "\${file:${interval}}", loop: true } }
exporters: { flowlog: { path: ${join(dir, 'from-file.jsonl')} } }
service:
  pipelines: { flows: { receivers: [replay], exporters: [flowlog] } }
  telemetry: { metrics: { endpoint: none } }
`,
    );
    const setPath = join(dir, 'from-set.jsonl');
    const env = { ...process.env, ZT_LOGS: 'service: { telemetry: { logs: { level: info } } }' };
    const program = start(['run', '--set', `exporters::flowlog::path=${setPath}`, '-c', `file:${base}`, '-c', 'env:ZT_LOGS'], env);
    try {
      await program.logged('"msg":"zonetap is ready"');
      // The file's flowlog path changes, but --set overrides it again: flowlog is kept. The interval file changes: replay is replaced.
      await writeFile(base, (await import('node:fs')).readFileSync(base, 'utf8').replace('from-file.jsonl', 'from-file-2.jsonl'));
      await writeFile(interval, '2s\n');
      program.child.kill('SIGHUP');
      await program.logged(/"kept":\["\\"flowlog\\" exporter"\],"replaced":\["\\"replay\\" receiver"\],"added":\[\],"removed":\[\],"msg":"configuration reloaded"/);
      assert.ok(program.output().includes(`"files":["file:${base}","env:ZT_LOGS","--set exporters::flowlog::path=${setPath}"]`), 'the sources, --set last');
    } finally {
      await program.stop();
    }
  });
});

describe('help and components', () => {
  it('each command prints its own help, with --help or as zonetap help COMMAND', async () => {
    for (const [command, first] of [
      ['run', 'Usage: zonetap run --config SOURCE'],
      ['validate', 'Usage: zonetap validate --config SOURCE'],
      ['components', 'Usage: zonetap components [--json]'],
      ['advise', 'Usage: zonetap advise --flow-log FILE [options]'],
    ] as const) {
      const own = await cli([command, '--help']);
      assert.equal(own.code, 0);
      assert.match(own.stdout, new RegExp(`\\n\\n${first.replace(/[[\]]/g, '\\$&')}`), command);
      assert.deepEqual(await cli(['help', command]), own);
    }
    const general = await cli(['--help']);
    assert.match(general.stdout, /\nUsage:\n {2}zonetap run --config SOURCE/);
    const demo = await cli(['demo', '--help']);
    assert.equal(demo.code, 0);
    assert.match(demo.stdout, /^usage: zonetap demo/);
    assert.deepEqual(await cli(['help', 'demo']), demo);
    assert.deepEqual(await cli(['help', 'serve']), {
      code: 2,
      stdout: '',
      stderr: 'zonetap: ZT_USAGE: unknown command "serve": expected run, validate, components, demo, advise; see zonetap --help\n',
    });
  });

  it('components --json lists what the table lists', async () => {
    const table = await cli(['components']);
    const json = await cli(['components', '--json']);
    assert.equal(json.code, 0);
    const parsed = JSON.parse(json.stdout) as Record<'receivers' | 'processors' | 'exporters', { type: string; stability: string; description: string }[]> & { version: string };
    const rows = table.stdout.trim().split('\n').slice(1).map((line) => line.split(/\s{2,}/));
    const fromJson = (['receivers', 'processors', 'exporters'] as const).flatMap((section) =>
      parsed[section].map((c) => [section.slice(0, -1), c.type, c.stability, c.description]),
    );
    assert.deepEqual(fromJson, rows);
    assert.ok(parsed.receivers.some((c) => c.type === 'netfilter') && parsed.exporters.some((c) => c.type === 'prometheus'));
    assert.match(parsed.version, /^\d+\.\d+\.\d+/);
  });
});
