/**
 * scripts/fill-compile-cache.ts (run by deploy/Dockerfile): a cache it filled
 * holds every module the commands load, so a container with a read-only root
 * file system never strips types at run time. Proof: after the fill, running
 * `components`, `validate` and `run` (the quick start, until ready) with that
 * cache adds and rewrites nothing in it; Node writes an entry for each module
 * it had to compile.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { freePort } from '../test/support/loopback.ts';
import { until } from '../test/support/poll.ts';
import { REPO, run, startProgram, ZONETAP } from '../test/support/processes.ts';

const cache = mkdtempSync(join(tmpdir(), 'zt-compile-cache-'));
after(() => rmSync(cache, { recursive: true, force: true }));
const env = { ...process.env, NODE_COMPILE_CACHE: cache, NODE_NAME: 'node-a', POD_IP: '127.0.0.1', ZONETAP_OTLP_TOKEN: 'token', ZONETAP_OTLP_TOKEN_FILE: '/dev/null' };

/** Every cache entry with its size and modification time. */
function entries(): Map<string, string> {
  const found = new Map<string, string>();
  for (const version of readdirSync(cache)) {
    for (const name of readdirSync(join(cache, version))) {
      const s = statSync(join(cache, version, name));
      found.set(`${version}/${name}`, `${s.size} bytes, modified ${s.mtimeMs}`);
    }
  }
  return found;
}

test('a filled compile cache holds every module that components, validate and run load', async () => {
  const fill = await run(process.execPath, [join(REPO, 'scripts', 'fill-compile-cache.ts')], { env, cwd: REPO });
  assert.equal(fill.code, 0, fill.stderr);
  const filled = entries();
  assert.ok(filled.size > 100, `only ${filled.size} entries after the fill`);

  for (const args of [['components'], ['validate', '--config', 'config/agent.yaml'], ['validate', '--config', 'config/gateway.yaml']]) {
    const r = await run(ZONETAP, args, { env, cwd: REPO });
    assert.equal(r.code, 0, `zonetap ${args.join(' ')}: ${r.stderr}`);
  }
  const [metrics, telemetry] = [await freePort(), await freePort()];
  const quickstart = startProgram(ZONETAP, ['run', '--config', 'config/quickstart.yaml', '--set', `exporters::prometheus::endpoint=127.0.0.1:${metrics}`, '--set', `service::telemetry::metrics::endpoint=127.0.0.1:${telemetry}`, '--log-level', 'info'], { env, cwd: REPO });
  try {
    await until('the quick start ready', () => {
      assert.equal(quickstart.child.exitCode, null, quickstart.output());
      return /zonetap is ready/.test(quickstart.output());
    }, { details: quickstart.output });
  } finally {
    assert.equal(await quickstart.stop('SIGTERM'), 0, quickstart.output());
  }

  const now = entries();
  const added = [...now.keys()].filter((k) => !filled.has(k));
  const rewritten = [...filled.keys()].filter((k) => now.has(k) && now.get(k) !== filled.get(k));
  assert.deepEqual({ added, rewritten }, { added: [], rewritten: [] });
});
