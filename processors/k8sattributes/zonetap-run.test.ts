/**
 * `zonetap run` as a user runs it (bin/zonetap, child process): replay ->
 * k8sattributes (source: kubernetes, the fake API server on loopback) ->
 * crosszone -> flowlog. Both ends of each flow come out named; /readyz and
 * zonetap_processor_k8sattributes_ready follow the API server's health.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeKubeApiServer, makeNode, makePod, makeReplicaSet } from '../../test/kube-api/index.ts';
import { eventually } from '../../test/support/poll.ts';
import { REPO, ZONETAP, startProgram, type RunningProgram } from '../../test/support/processes.ts';
import { samplesOf, scrapeMetrics, type Sample } from '../../test/support/prometheus.ts';

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

/**
 * `zonetap run` on replay of `flows` -> k8sattributes (the fake API server,
 * plus `settings`, YAML lines) -> `more` processors -> flowlog, telemetry on a
 * free port. Returns the program and its flow log.
 */
function zonetapRun(name: string, flows: object[], settings: string[], more: string[] = []): { program: RunningProgram; out: string } {
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
  return { program: startProgram(ZONETAP, ['run', '--config', config], { cwd: REPO }), out };
}

test('zonetap run names both ends from the Kubernetes API', async () => {
  const { program, out } = zonetapRun(
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
      assert.ok(existsSync(out), `no flow log yet; output: ${program.output()}`);
      const text = readFileSync(out, 'utf8').trim();
      const parsed = text ? text.split('\n').map((l) => JSON.parse(l)) : [];
      assert.equal(parsed.length, 2, `output: ${program.output()}`);
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
    await program.stop();
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
  const { program, out } = zonetapRun('health', [{ 'src.address': '10.9.9.9', 'src.port': 1, 'dst.address': '10.2.0.7', 'dst.port': 5432, bytes: 4242, packets: 3 }], ['unhealthy_after: 1s', 'resolve_wait: 1s']);
  const id = { component_id: 'k8sattributes' };
  const value = (samples: Sample[], name: string) => samplesOf(samples, name, id).map((s) => s.value);
  try {
    const endpoint = await eventually(() => /"endpoint":"(127\.0\.0\.1:\d+)","msg":"telemetry server listening/.exec(program.output())?.[1] ?? assert.fail(`not listening yet: ${program.output()}`));
    await eventually(async () => assert.equal((await get(endpoint, '/readyz'))?.status, 200));
    await eventually(() => assert.match(existsSync(out) ? readFileSync(out, 'utf8') : '', /"bytes":4242/, 'the unresolved flow passed on after resolve_wait'));
    const samples = await scrapeMetrics(endpoint);
    assert.deepEqual(value(samples, 'zonetap_processor_k8sattributes_held_records_total'), [1]);
    assert.deepEqual(value(samples, 'zonetap_processor_k8sattributes_unresolved_after_wait_records_total'), [1]);
    assert.deepEqual(value(samples, 'zonetap_processor_k8sattributes_held'), [0]);
    assert.deepEqual(value(samples, 'zonetap_processor_k8sattributes_held_memory_bytes'), [0]);
    assert.deepEqual(value(samples, 'zonetap_processor_k8sattributes_ready'), [1]);

    await server.stop();
    await eventually(async () => assert.equal((await get(endpoint, '/readyz'))?.status, 503));
    assert.deepEqual(value(await scrapeMetrics(endpoint), 'zonetap_processor_k8sattributes_ready'), [0]);
    await server.start();
    await eventually(async () => assert.equal((await get(endpoint, '/readyz'))?.status, 200));
    assert.deepEqual(value(await scrapeMetrics(endpoint), 'zonetap_processor_k8sattributes_ready'), [1]);
  } finally {
    await server.start();
    await program.stop();
  }
});
