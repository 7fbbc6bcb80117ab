/**
 * runService's signal handling, in a child process (cli/testdata/run-stuck.ts)
 * whose exporter never finishes shutting down: the deadline ends the shutdown
 * with exit 1, and a second signal exits at once with 128 + signal.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';

const fixture = fileURLToPath(new URL('./testdata/run-stuck.ts', import.meta.url));
let dir: string;
let config: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'zt-run-'));
  config = join(dir, 'stuck.yaml');
  await writeFile(
    config,
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

/** Starts the fixture and resolves once its log says `message`. */
function start(timeoutMs: string) {
  const child = spawn(process.execPath, [fixture, config, timeoutMs], { stdio: ['ignore', 'ignore', 'pipe'] });
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
  const logged = async (message: string) => {
    while (!stderr.includes(`"msg":"${message}"`)) {
      assert.equal(child.exitCode, null, `exited before logging "${message}":\n${stderr}`);
      await new Promise<void>((r) => waiters.push(r));
    }
  };
  return { child, exited, logged, stderr: () => stderr };
}

describe('runService signals', () => {
  it('gives up at the shutdown deadline and exits 1, naming the component that did not stop', async () => {
    const run = start('300');
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
    const run = start('60000');
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
});
