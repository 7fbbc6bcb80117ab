/**
 * `zonetap run` as a user runs it (bin/zonetap, child process): replay ->
 * k8sattributes (source: kubernetes, the fake API server on loopback) ->
 * crosszone -> flowlog. Both ends of each flow come out named; /readyz and
 * zonetap_processor_k8sattributes_ready follow the API server's health.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeKubeApiServer, makeNode, makePod, makeReplicaSet } from '../../test/kube-api/index.ts';
import { eventually } from '../../test/support/poll.ts';

const root = join(import.meta.dirname, '../..');
let server: FakeKubeApiServer;
let dir: string;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'zt-k8sattr-run-'));
  server = new FakeKubeApiServer();
  await server.start();
  server.store.create('nodes', makeNode({ name: 'node-a', zone: 'zone-a', region: 'region-1', internalIPs: ['192.168.50.1'] }));
  server.store.create('nodes', makeNode({ name: 'node-b', zone: 'zone-b', region: 'region-1', internalIPs: ['192.168.50.2'] }));
  server.store.create('replicasets', makeReplicaSet('shop', 'api-7d9f', 'api'));
  server.store.create('pods', makePod({ namespace: 'shop', name: 'api-7d9f-aaaaa', node: 'node-a', ips: ['10.1.0.5'], owner: { kind: 'ReplicaSet', name: 'api-7d9f' } }));
  server.store.create('pods', makePod({ namespace: 'shop', name: 'db-0', node: 'node-b', ips: ['10.2.0.7'], owner: { kind: 'StatefulSet', name: 'db' } }));
});

after(async () => {
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
});

interface Running {
  /** Its flow log. */
  out: string;
  stderr(): string;
  stop(): Promise<void>;
}

/**
 * `zonetap run` on replay of `flows` -> k8sattributes (the fake API server,
 * plus `settings`, YAML lines) -> `more` processors -> flowlog, telemetry on a free port.
 */
function zonetapRun(name: string, flows: object[], settings: string[], more: string[] = []): Running {
  const input = join(dir, `${name}.jsonl`);
  const out = join(dir, `${name}-out.jsonl`);
  writeFileSync(input, flows.map((f) => JSON.stringify({ start: '2026-11-26T10:00:00.000Z', end: '2026-11-26T10:00:10.000Z', transport: 'tcp', ...f })).join('\n') + '\n');
  const config = join(dir, `${name}.yaml`);
  writeFileSync(
    config,
    `receivers:
  replay: { path: ${input}, interval: 100ms }
processors:
  k8sattributes:
    kubeconfig: ${server.writeKubeconfig(join(dir, 'kubeconfig'))}
${settings.map((l) => `    ${l}\n`).join('')}${more.map((p) => `  ${p}: {}\n`).join('')}exporters:
  flowlog: { path: ${out} }
service:
  pipelines:
    flows: { receivers: [replay], processors: [${['k8sattributes', ...more].join(', ')}], exporters: [flowlog] }
  telemetry:
    metrics: { endpoint: "127.0.0.1:0" }
`,
  );
  const child = spawn(join(root, 'bin/zonetap'), ['run', '--config', config], { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  return {
    out,
    stderr: () => stderr,
    async stop() {
      child.kill('SIGTERM');
      if (child.exitCode === null && child.signalCode === null) await once(child, 'exit');
    },
  };
}

test('zonetap run names both ends from the Kubernetes API', async () => {
  const run = zonetapRun(
    'names',
    [
      { 'src.address': '10.1.0.5', 'src.port': 43122, 'dst.address': '10.2.0.7', 'dst.port': 5432, bytes: 18234, packets: 31 },
      { 'src.address': '10.1.0.5', 'src.port': 43123, 'dst.address': '192.168.50.2', 'dst.port': 10250, bytes: 700, packets: 2 },
    ],
    ['sync_timeout: 20s'],
    ['crosszone'],
  );
  try {
    const lines = await eventually(() => {
      assert.ok(existsSync(run.out), `no flow log yet; stderr: ${run.stderr()}`);
      const text = readFileSync(run.out, 'utf8').trim();
      const parsed = text ? text.split('\n').map((l) => JSON.parse(l)) : [];
      assert.equal(parsed.length, 2, `stderr: ${run.stderr()}`);
      return parsed;
    });
    const [podToPod, podToNode] = lines;
    assert.equal(podToPod['k8s.src.name'], 'api-7d9f-aaaaa');
    assert.equal(podToPod['k8s.src.owner.type'], 'Deployment');
    assert.equal(podToPod['k8s.src.owner.name'], 'api');
    assert.equal(podToPod['k8s.dst.name'], 'db-0');
    assert.equal(podToPod['dst.zone'], 'zone-b');
    assert.equal(podToPod['zonetap.traffic.class'], 'cross_zone');
    assert.equal(podToNode['k8s.dst.owner.type'], 'Node');
    assert.equal(podToNode['k8s.dst.node.name'], 'node-b');
    assert.ok(server.requests.some((r) => r.path === '/api/v1/pods' && r.query.watch === 'true'), 'zonetap watched pods');
  } finally {
    await run.stop();
  }
});

/** GET http://endpoint/path: status and body, or undefined while nothing answers. */
async function get(endpoint: string, path: string): Promise<{ status: number; body: string } | undefined> {
  try {
    const res = await fetch(`http://${endpoint}${path}`, { signal: AbortSignal.timeout(2000) });
    return { status: res.status, body: await res.text() };
  } catch {
    return undefined;
  }
}

test('zonetap run: /readyz and zonetap_processor_k8sattributes_ready turn 503 and 0 after unhealthy_after without the API server, 200 and 1 once it is back', async () => {
  // A source nobody claims: held, then passed on unresolved after resolve_wait.
  const run = zonetapRun('health', [{ 'src.address': '10.9.9.9', 'src.port': 1, 'dst.address': '10.2.0.7', 'dst.port': 5432, bytes: 4242, packets: 3 }], ['unhealthy_after: 1s', 'resolve_wait: 1s']);
  const out = run.out;
  const ready = (metrics: string) => /^zonetap_processor_k8sattributes_ready\{[^}]*component_id="k8sattributes"[^}]*\} (\d)/m.exec(metrics)?.[1];
  try {
    const endpoint = await eventually(() => /"endpoint":"(127\.0\.0\.1:\d+)","msg":"telemetry server listening/.exec(run.stderr())?.[1] ?? assert.fail(`not listening yet: ${run.stderr()}`), 30_000);
    await eventually(async () => assert.equal((await get(endpoint, '/readyz'))?.status, 200), 30_000);
    await eventually(() => assert.match(existsSync(out) ? readFileSync(out, 'utf8') : '', /"bytes":4242/, 'the unresolved flow passed on after resolve_wait'));
    const metrics = (await get(endpoint, '/metrics'))!.body;
    assert.match(metrics, /^zonetap_processor_k8sattributes_held_records_total\{[^}]*component_id="k8sattributes"[^}]*\} 1$/m);
    assert.match(metrics, /^zonetap_processor_k8sattributes_unresolved_after_wait_records_total\{[^}]*component_id="k8sattributes"[^}]*\} 1$/m);
    assert.match(metrics, /^zonetap_processor_k8sattributes_held\{[^}]*component_id="k8sattributes"[^}]*\} 0$/m);
    assert.match(metrics, /^zonetap_processor_k8sattributes_held_memory_bytes\{[^}]*component_id="k8sattributes"[^}]*\} 0$/m);
    assert.equal(ready(metrics), '1');

    await server.stop();
    await eventually(async () => assert.equal((await get(endpoint, '/readyz'))?.status, 503), 30_000);
    assert.equal(ready((await get(endpoint, '/metrics'))!.body), '0');
    await server.start();
    await eventually(async () => assert.equal((await get(endpoint, '/readyz'))?.status, 200), 30_000);
    assert.equal(ready((await get(endpoint, '/metrics'))!.body), '1');
  } finally {
    await server.start();
    await run.stop();
  }
});
