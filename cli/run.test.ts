/**
 * `zonetap run` and signals, in child processes: the shutdown deadline (exit
 * 1) and a second signal (exit at once with 128 + signal) with a fixture whose
 * exporter never stops (testdata/run-stuck.ts); SIGHUP reloads through
 * bin/zonetap, an invalid configuration leaving the running one in place; and
 * signals during the second or more that loading the components takes
 * (held back by testdata/slow-import.ts).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';

const root = fileURLToPath(new URL('..', import.meta.url));
const zonetap = join(root, 'bin/zonetap');
const fixture = join(root, 'cli/testdata/run-stuck.ts');
const slowImport = join(root, 'cli/testdata/slow-import.ts');
const flows = join(root, 'pipeline/config/testdata/flows.jsonl');
let dir: string;
let stuckConfig: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'zt-run-'));
  stuckConfig = join(dir, 'stuck.yaml');
  await writeFile(
    stuckConfig,
    `receivers: { idle: }
exporters: { stuck: }
service:
  pipelines: { flows: { receivers: [idle], exporters: [stuck] } }
  telemetry: { metrics: { endpoint: none } }
`,
  );
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Starts `command` with `args`; logged(m) resolves once a log line's msg is m. */
function start(command: string, args: string[], env: NodeJS.ProcessEnv = process.env) {
  const child = spawn(command, args, { cwd: root, env, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  const waiters: Array<() => void> = [];
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
    for (const w of waiters.splice(0)) w();
  });
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  void exited.then(() => {
    for (const w of waiters.splice(0)) w();
  });
  const count = (message: string) => stderr.split(`"msg":"${message}`).length - 1;
  /** Resolves once `message` has been logged `times` times. */
  const logged = async (message: string, times = 1) => {
    while (count(message) < times) {
      assert.equal(child.exitCode, null, `exited before logging "${message}":\n${stderr}`);
      await new Promise<void>((r) => waiters.push(r));
    }
  };
  return { child, exited, logged, count, stderr: () => stderr };
}

/** A replay -> flowlog configuration for bin/zonetap; `interval` changes it. */
async function replayConfig(file: string, interval: string): Promise<void> {
  await writeFile(
    file,
    `receivers: { replay: { path: ${flows}, interval: ${interval}, loop: true } }
exporters: { flowlog: { path: ${join(dir, 'reload.jsonl')} } }
service:
  pipelines: { flows: { receivers: [replay], exporters: [flowlog] } }
  telemetry: { metrics: { endpoint: none } }
`,
  );
}

describe('runService signals', () => {
  it('gives up at the shutdown deadline and exits 1, naming the component that did not stop', async () => {
    const run = start(process.execPath, [fixture, stuckConfig, '300']);
    try {
      await run.logged('zonetap is ready');
      run.child.kill('SIGTERM');
      const [code] = await run.exited;
      assert.equal(code, 1, run.stderr());
      assert.match(run.stderr(), /"pending":\["\\"stuck\\" exporter"\],"timeout_ms":300,"msg":"shutdown deadline passed/);
    } finally {
      run.child.kill('SIGKILL');
    }
  });

  it('exits at once with 130 on a second signal during shutdown', async () => {
    const run = start(process.execPath, [fixture, stuckConfig, '60000']);
    try {
      await run.logged('zonetap is ready');
      run.child.kill('SIGTERM');
      await run.logged('shutting down: flushing exporters');
      run.child.kill('SIGINT');
      const [code] = await run.exited;
      assert.equal(code, 130, run.stderr());
      assert.match(run.stderr(), /"signal":"SIGINT","msg":"second signal during shutdown: exiting now"/);
    } finally {
      run.child.kill('SIGKILL');
    }
  });

  it('SIGHUP reloads the configuration; an invalid one is logged and the running one stays', async () => {
    const config = join(dir, 'reload.yaml');
    await replayConfig(config, '50ms');
    const run = start(zonetap, ['run', '--config', config]);
    try {
      await run.logged('zonetap is ready');
      run.child.kill('SIGHUP'); // killed the process with exit 129 before
      await run.logged('configuration reloaded');
      assert.match(run.stderr(), /"kept":\["\\"flowlog\\" exporter","\\"replay\\" receiver"\],"replaced":\[\],"added":\[\],"removed":\[\],"msg":"configuration reloaded"/);
      await replayConfig(config, '80ms');
      run.child.kill('SIGHUP');
      await run.logged('configuration reloaded', 2);
      assert.match(run.stderr(), /"kept":\["\\"flowlog\\" exporter"\],"replaced":\["\\"replay\\" receiver"\],"added":\[\],"removed":\[\],"msg":"configuration reloaded"/);
      await replayConfig(config, 'soon');
      run.child.kill('SIGHUP');
      await run.logged('configuration reload failed');
      assert.match(
        run.stderr(),
        /"code":"ZT_CONFIG_INVALID","problems":\[".*reload\.yaml:1:\d+: receivers::replay::interval: invalid duration \\"soon\\"[^"]*"\],"msg":"configuration reload failed: configuration is invalid \(1 problem\); the running configuration stays in place"/,
      );
      // Still running the last good configuration: the flow log keeps growing.
      const lines = async () => (await readFile(join(dir, 'reload.jsonl'), 'utf8')).split('\n').length;
      const before = await lines();
      while ((await lines()) <= before) await sleep(50);
      run.child.kill('SIGTERM');
      const [code, signal] = await run.exited;
      assert.deepEqual([code, signal], [0, null], run.stderr());
    } finally {
      run.child.kill('SIGKILL');
    }
  });

  /** Starts bin/zonetap run with the loading of cli/factories.ts held back; `loading` resolves once it is being loaded. */
  async function startLoading(name: string) {
    const config = join(dir, `${name}.yaml`);
    await replayConfig(config, '1s');
    const marker = join(dir, `${name}.loading`);
    const release = join(dir, `${name}.release`);
    const env = {
      ...process.env,
      NODE_OPTIONS: `--import ${slowImport}`,
      ZT_TEST_SLOW_IMPORT: 'cli/factories.ts',
      ZT_TEST_SLOW_IMPORT_MARKER: marker,
      ZT_TEST_SLOW_IMPORT_RELEASE: release,
    };
    const run = start(zonetap, ['run', '--config', config], env);
    while (!existsSync(marker)) {
      assert.equal(run.child.exitCode, null, run.stderr());
      await sleep(20);
    }
    return { ...run, release: () => writeFile(release, '') };
  }

  it('SIGTERM while the components load: logged, and exit 0 without starting anything', async () => {
    const run = await startLoading('early-term');
    try {
      run.child.kill('SIGTERM'); // was the default action: killed, exit 143, nothing logged
      await run.logged('signal before start-up: exiting without starting anything');
      await run.release();
      const [code, signal] = await run.exited;
      assert.deepEqual([code, signal], [0, null], run.stderr());
      assert.equal(run.count('zonetap is ready'), 0);
    } finally {
      run.child.kill('SIGKILL');
    }
  });

  it('SIGHUP while the components load: a reload once running', async () => {
    const run = await startLoading('early-hup');
    try {
      run.child.kill('SIGHUP'); // was the default action: killed, exit 129
      await run.release();
      await run.logged('zonetap is ready');
      await run.logged('configuration reloaded');
      run.child.kill('SIGTERM');
      const [code, signal] = await run.exited;
      assert.deepEqual([code, signal], [0, null], run.stderr());
    } finally {
      run.child.kill('SIGKILL');
    }
  });
});
