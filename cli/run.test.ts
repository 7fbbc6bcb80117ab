/**
 * `zonetap run` and signals, in child processes: the shutdown deadline (exit
 * 1) and a second signal (exit at once with 128 + signal) with a fixture whose
 * exporter never stops (testdata/run-stuck.ts); SIGHUP reloads through
 * bin/zonetap, an invalid configuration leaving the running one in place; and
 * signals during the second or more that loading the components takes
 * (held back by testdata/slow-import.ts).
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { until } from '../test/support/poll.ts';
import { REPO as root, startProgram, ZONETAP as zonetap } from '../test/support/processes.ts';

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

/** Starts `command` with `args`; logged(m, n) resolves once a log line's msg has been m n times. */
function start(command: string, args: string[], env: NodeJS.ProcessEnv = process.env) {
  const program = startProgram(command, args, { cwd: root, env });
  const count = (message: string) => program.output().split(`"msg":"${message}`).length - 1;
  const logged = (message: string, times = 1) =>
    until(
      `log "${message}" x${times}`,
      () => {
        assert.deepEqual([program.child.exitCode, program.child.signalCode], [null, null], `exited before logging "${message}":\n${program.output()}`);
        return count(message) >= times;
      },
      { details: program.output },
    );
  return { ...program, count, logged };
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
      assert.equal(await run.exited, 1, run.output());
      assert.match(run.output(), /"pending":\["\\"stuck\\" exporter"\],"timeout_ms":300,"msg":"shutdown deadline passed/);
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
      assert.equal(await run.exited, 130, run.output());
      assert.match(run.output(), /"signal":"SIGINT","msg":"second signal during shutdown: exiting now"/);
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
      assert.match(run.output(), /"kept":\["\\"flowlog\\" exporter","\\"replay\\" receiver"\],"replaced":\[\],"added":\[\],"removed":\[\],"msg":"configuration reloaded"/);
      await replayConfig(config, '80ms');
      run.child.kill('SIGHUP');
      await run.logged('configuration reloaded', 2);
      assert.match(run.output(), /"kept":\["\\"flowlog\\" exporter"\],"replaced":\["\\"replay\\" receiver"\],"added":\[\],"removed":\[\],"msg":"configuration reloaded"/);
      await replayConfig(config, 'soon');
      run.child.kill('SIGHUP');
      await run.logged('configuration reload failed');
      assert.match(
        run.output(),
        /"code":"ZT_CONFIG_INVALID","problems":\[".*reload\.yaml:1:\d+: receivers::replay::interval: invalid duration \\"soon\\"[^"]*"\],"msg":"configuration reload failed: configuration is invalid \(1 problem\); the running configuration stays in place"/,
      );
      // Still running the last good configuration: the flow log keeps growing.
      const lines = async () => (await readFile(join(dir, 'reload.jsonl'), 'utf8')).split('\n').length;
      const before = await lines();
      await until('more flow log lines', async () => (await lines()) > before);
      run.child.kill('SIGTERM');
      assert.equal(await run.exited, 0, run.output());
    } finally {
      run.child.kill('SIGKILL');
    }
  });

  /** Starts bin/zonetap run with the loading of a component it uses (the replay receiver) held back; `loading` resolves once it is being loaded. */
  async function startLoading(name: string) {
    const config = join(dir, `${name}.yaml`);
    await replayConfig(config, '1s');
    const marker = join(dir, `${name}.loading`);
    const release = join(dir, `${name}.release`);
    const env = {
      ...process.env,
      NODE_OPTIONS: `--import ${slowImport}`,
      // The hook holds back a module of the sources: build/zonetap.mjs (bin/zonetap) has no separate modules.
      ZONETAP_FROM_SOURCES: '1',
      ZT_TEST_SLOW_IMPORT: 'receivers/replay/index.ts',
      ZT_TEST_SLOW_IMPORT_MARKER: marker,
      ZT_TEST_SLOW_IMPORT_RELEASE: release,
    };
    const run = start(zonetap, ['run', '--config', config], env);
    await until('receivers/replay/index.ts loading', () => {
      assert.deepEqual([run.child.exitCode, run.child.signalCode], [null, null], run.output());
      return existsSync(marker);
    });
    return { ...run, release: () => writeFile(release, '') };
  }

  it('SIGTERM while the components load: logged, and exit 0 without starting anything', async () => {
    const run = await startLoading('early-term');
    try {
      run.child.kill('SIGTERM'); // was the default action: killed, exit 143, nothing logged
      await run.logged('signal before start-up: exiting without starting anything');
      await run.release();
      assert.equal(await run.exited, 0, run.output());
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
      assert.equal(await run.exited, 0, run.output());
    } finally {
      run.child.kill('SIGKILL');
    }
  });
});
