/**
 * The zonetap command as users run it: bin/zonetap in a child process. Exit
 * codes, messages, and a real run (replay -> flowlog) that turns ready, then
 * shuts down on SIGTERM with the flow log flushed.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ERROR_CODES } from '../pipeline/errors.ts';
import { readableCopy } from '../test/support/checkout.ts';
import { until } from '../test/support/poll.ts';
import { REPO as root, run, ZONETAP as zonetap } from '../test/support/processes.ts';

const cli = (args: string[]) => run(zonetap, args, { cwd: root, timeoutMs: 60_000 });

/** bin/zonetap as nobody; a checkout nobody cannot read (under /root, say) runs from a copy nobody can read. */
async function asNobody(args: string[]) {
  const nobody = ['--reuid=65534', '--regid=65534', '--clear-groups'];
  const readable = (await run('setpriv', [...nobody, process.execPath, join(root, 'pipeline/version.ts')])).code === 0;
  const copy = readable ? undefined : readableCopy();
  try {
    return await run('setpriv', [...nobody, copy?.zonetap ?? zonetap, ...args], { cwd: root, timeoutMs: 60_000 });
  } finally {
    if (copy) await rm(copy.root, { recursive: true, force: true });
  }
}

let dir: string;
let flows: string;
const RECORDS = 5;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'zt-cli-'));
  flows = join(dir, 'flows.jsonl');
  const line = (start: string, end: string, i: number) =>
    JSON.stringify({ start, end, 'src.address': `10.1.0.${i}`, 'src.port': 40000 + i, 'dst.address': '10.2.0.7', 'dst.port': 5432, transport: 'tcp', bytes: 1000 * i, packets: i });
  const lines = [1, 2, 3].map((i) => line('2026-11-26T10:00:00.000Z', '2026-11-26T10:00:10.000Z', i));
  lines.push(...[4, 5].map((i) => line('2026-11-26T10:00:10.000Z', '2026-11-26T10:00:20.000Z', i)));
  await writeFile(flows, `${lines.join('\n')}\n`);
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function config(name: string, yaml: string): Promise<string> {
  const file = join(dir, name);
  await writeFile(file, yaml);
  return file;
}

describe('zonetap command line', () => {
  it('--version prints the package version', async () => {
    const pkg = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as { version: string };
    assert.deepEqual(await cli(['--version']), { code: 0, stdout: `zonetap ${pkg.version}\n`, stderr: '' });
  });

  it('--help prints usage', async () => {
    const r = await cli(['--help']);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /^zonetap .*\n\nUsage:\n {2}zonetap run --config SOURCE/);
  });

  it('rejects an unknown flag, an unknown command and a missing --config with exit 2', async () => {
    assert.deepEqual(await cli(['run', '--confg', 'x.yaml']), { code: 2, stdout: '', stderr: 'zonetap: ZT_USAGE: unknown flag --confg; see zonetap run --help\n' });
    assert.deepEqual(await cli(['serve']), {
      code: 2,
      stdout: '',
      stderr: 'zonetap: ZT_USAGE: unknown command "serve": expected run, validate, components, demo or advise; see zonetap --help\n',
    });
    assert.deepEqual(await cli(['validate']), { code: 2, stdout: '', stderr: 'zonetap: ZT_USAGE: zonetap validate needs --config FILE; see zonetap validate --help\n' });
    assert.deepEqual(await cli(['validate', '-c']), { code: 2, stdout: '', stderr: 'zonetap: ZT_USAGE: flag --config needs a value; see zonetap validate --help\n' });
    assert.deepEqual(await cli(['--verbose']), { code: 2, stdout: '', stderr: 'zonetap: ZT_USAGE: unknown flag --verbose; see zonetap --help\n' });
  });

  it('validate: a missing file is a clear error with exit 2', async () => {
    const missing = join(dir, 'missing.yaml');
    assert.deepEqual(await cli(['validate', '--config', missing]), {
      code: 2,
      stdout: '',
      stderr: `zonetap: ZT_CONFIG_READ: configuration could not be read (1 problem):\n  ${missing}: cannot read configuration file: no such file\n`,
    });
  });

  it('validate: exit 0 for a valid configuration, 2 with every problem for an invalid one', async () => {
    const good = await config(
      'good.yaml',
      `receivers: { replay: { path: ${flows}, interval: 1s } }
exporters: { flowlog: { path: ${join(dir, 'out.jsonl')} } }
service:
  pipelines: { flows: { receivers: [replay], exporters: [flowlog] } }
  telemetry: { metrics: { endpoint: 127.0.0.1:8888 }, logs: { level: info } }
`,
    );
    assert.deepEqual(await cli(['validate', '--config', good]), { code: 0, stdout: 'configuration is valid\n', stderr: '' });
    const bad = await config(
      'bad.yaml',
      `receivers:
  replay:
    path: ${flows}
    intervall: 1s
exporters:
  flowlog:
service:
  pipelines:
    flows: { receivers: [replay], exporters: [flowlog, prometheus] }
`,
    );
    assert.deepEqual(await cli(['validate', '-c', bad]), {
      code: 2,
      stdout: '',
      stderr:
        'zonetap: ZT_CONFIG_INVALID: configuration is invalid (2 problems):\n' +
        `  ${bad}:4:5: receivers::replay::intervall: unknown key "intervall"; did you mean "interval"?\n` +
        `  ${bad}:9:56: service::pipelines::flows::exporters::1: references exporter "prometheus", which is not defined under exporters; valid exporters: flowlog\n`,
    });
  });

  it('validate: hostile files end with exit 2 and one clear problem, not a crash or a hang', async () => {
    // The alias bomb grew the process to 1.8 GB in 90 s and the self-referencing alias
    // crashed with a RangeError; cli() kills a run that takes longer than its timeout.
    const cases: Array<[string, string]> = [
      ['pipeline/config/testdata/alias-bomb.yaml', '11:10: alias "*e" repeats 66430 values: a configuration holds at most 100000, aliases expanded'],
      ['pipeline/config/testdata/alias-loop.yaml', '4:9: alias "*r" is inside the value it names, which would never end'],
      ['pipeline/config/testdata/too-deep.yaml', '3:74: nested deeper than 64 levels: a zonetap configuration needs a handful'],
      ['pipeline/config/testdata/not-utf8.yaml', '3:38: byte 0xF6 is not UTF-8: a configuration file must be UTF-8 text'],
      ['pipeline/config/testdata/utf16.yaml', ' the file is UTF-16LE text; zonetap reads UTF-8 only: convert it, e.g. iconv -f UTF-16LE -t UTF-8'],
      ['/dev/zero', ' configuration file is larger than 4 MiB, the most zonetap reads'],
    ];
    for (const [file, problem] of cases) {
      assert.deepEqual(await cli(['validate', '--config', file]), {
        code: 2,
        stdout: '',
        stderr: `zonetap: ZT_CONFIG_READ: configuration could not be read (1 problem):\n  ${file}:${problem}\n`,
      });
    }
  });

  it('validate catches what run fails on: a missing static inventory, a flow log directory it cannot write', async () => {
    // As root every directory is writable: check as an unprivileged user (nobody) instead.
    const asRoot = process.getuid?.() === 0;
    const uid = asRoot ? 65534 : process.getuid!();
    const logs = join(dir, 'read-only-logs');
    await mkdir(logs, { mode: asRoot ? 0o755 : 0o555 });
    const file = await config(
      'run-would-fail.yaml',
      `receivers: { replay: { path: ${flows} } }
processors:
  k8sattributes: { source: static, inventory: ${join(dir, 'no-inventory.yaml')} }
exporters:
  flowlog: { path: ${join(logs, 'flows.jsonl')} }
service:
  pipelines: { flows: { receivers: [replay], processors: [k8sattributes], exporters: [flowlog] } }
`,
    );
    await chmod(dir, 0o755); // readable by nobody: the config and the flows it names
    const args = ['validate', '--config', file];
    const r = asRoot ? await asNobody(args) : await cli(args);
    assert.deepEqual(r, {
      code: 2,
      stdout: '',
      stderr:
        'zonetap: ZT_CONFIG_INVALID: configuration is invalid (2 problems):\n' +
        `  ${file}:3:36: processors::k8sattributes::inventory: file "${join(dir, 'no-inventory.yaml')}" does not exist\n` +
        `  ${file}:5:14: exporters::flowlog::path: directory "${logs}" of flow log "${join(logs, 'flows.jsonl')}" is not writable by this process (uid ${uid})\n`,
    });
  });

  it('components lists every built-in type with its stability and description', async () => {
    const r = await cli(['components']);
    assert.equal(r.code, 0);
    const lines = r.stdout.trimEnd().split('\n');
    assert.match(lines[0]!, /^KIND +TYPE +STABILITY +DESCRIPTION$/);
    assert.ok(lines.some((l) => /^receiver +replay +\w+ +\S/.test(l)), r.stdout);
    assert.ok(lines.some((l) => /^exporter +flowlog +\w+ +\S/.test(l)), r.stdout);
  });

  it('the README lists every error code', async () => {
    const readme = await readFile(join(root, 'cli/README.md'), 'utf8');
    for (const code of Object.keys(ERROR_CODES)) assert.match(readme, new RegExp(`\\| \`${code}\` \\|`), `${code} missing from cli/README.md`);
  });
});

describe('zonetap run', () => {
  for (const stopSignal of ['SIGTERM', 'SIGINT'] as const) {
    it(`turns ready, then on ${stopSignal} flushes the flow log and exits 0 within the deadline`, async () => {
      const out = join(dir, `run-out-${stopSignal}.jsonl`);
      const file = await config(
        `run-${stopSignal}.yaml`,
        `receivers: { replay: { path: ${flows}, interval: 50ms } }
exporters: { flowlog: { path: ${out} } }
service:
  pipelines: { flows: { receivers: [replay], exporters: [flowlog] } }
  telemetry: { metrics: { endpoint: 127.0.0.1:0 } }
`,
      );
      const child = spawn(zonetap, ['run', '--config', file, '--shutdown-timeout', '5s'], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
      let stderr = '';
      child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
      try {
        // The telemetry server picks a free port and logs it.
        const port = await until('the telemetry server\'s port in the log', () => {
          assert.equal(child.exitCode, null, `zonetap exited early:\n${stderr}`);
          return /"endpoint":"127\.0\.0\.1:(\d+)","msg":"telemetry server listening/.exec(stderr)?.[1];
        }, { intervalMs: 50 });
        const base = `http://127.0.0.1:${port}`;
        assert.equal((await fetch(`${base}/healthz`)).status, 200);
        // Ready once every component has started.
        await until('/readyz to answer 200', async () => (await fetch(`${base}/readyz`)).status === 200, { intervalMs: 50 });
        // Wait until the exporter has been handed every record, then stop.
        const exported = async () => {
          const text = await (await fetch(`${base}/metrics`)).text();
          return Number(/^zonetap_component_records_in_total\{component_id="flowlog",kind="exporter"\} (\d+)$/m.exec(text)?.[1] ?? 0);
        };
        await until('every record at the exporter', async () => (await exported()) >= RECORDS, { intervalMs: 50 });
        child.kill(stopSignal);
        const [code, signal] = await exited;
        assert.equal(signal, null);
        assert.equal(code, 0, stderr);
        assert.match(stderr, /"msg":"shutting down: flushing exporters"/);
        assert.match(stderr, /"msg":"zonetap stopped"/);
        const lines = (await readFile(out, 'utf8')).trimEnd().split('\n');
        assert.equal(lines.length, RECORDS, 'every record handed to the exporter is in the file');
        assert.deepEqual(lines.map((l) => (JSON.parse(l) as Record<string, unknown>)['src.address']).sort(), ['10.1.0.1', '10.1.0.2', '10.1.0.3', '10.1.0.4', '10.1.0.5']);
      } finally {
        if (child.exitCode === null) child.kill('SIGKILL');
      }
    });
  }

  it('exits 1 naming the component that failed to start', async () => {
    // Occupy a port so the exporter cannot listen on it.
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
    const { port } = blocker.address() as AddressInfo;
    try {
      const file = await config(
        'busy.yaml',
        `receivers: { replay: { path: ${flows} } }
exporters: { prometheus: { endpoint: 127.0.0.1:${port} } }
service:
  pipelines: { flows: { receivers: [replay], exporters: [prometheus] } }
  telemetry: { metrics: { endpoint: none } }
`,
      );
      const r = await cli(['run', '--config', file]);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /"code":"ZT_COMPONENT_START","msg":"failed to start \\"prometheus\\" exporter: [^"]*EADDRINUSE[^"]*"\}\n/);
      assert.doesNotMatch(r.stderr, /exporter: failed to start/, 'the component is named once');
    } finally {
      blocker.close();
    }
  });

  it('exits 2 without starting anything when the configuration is invalid', async () => {
    const yaml = `receivers: { replay: { path: ${flows}, interval: soon } }\n`;
    const file = await config('invalid-run.yaml', yaml);
    const r = await cli(['run', '--config', file]);
    assert.equal(r.code, 2);
    assert.equal(
      r.stderr,
      'zonetap: ZT_CONFIG_INVALID: configuration is invalid (2 problems):\n' +
        `  ${file}:1:1: service: missing required section: add service::pipelines::flows with receivers and exporters\n` +
        `  ${file}:1:${yaml.indexOf('interval') + 1}: receivers::replay::interval: invalid duration "soon": expected a positive number with a unit (ms, s, m, h), like 10s\n`,
    );
  });
});
