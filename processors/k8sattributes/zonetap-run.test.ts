/**
 * `zonetap run` as a user runs it (bin/zonetap, child process): replay ->
 * k8sattributes (source: kubernetes, the fake API server on loopback) ->
 * crosszone -> flowlog. Both ends of each flow come out named.
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

test('zonetap run names both ends from the Kubernetes API', async () => {
  const flows = join(dir, 'flows.jsonl');
  const out = join(dir, 'out.jsonl');
  writeFileSync(
    flows,
    [
      { 'src.address': '10.1.0.5', 'src.port': 43122, 'dst.address': '10.2.0.7', 'dst.port': 5432, bytes: 18234, packets: 31 },
      { 'src.address': '10.1.0.5', 'src.port': 43123, 'dst.address': '192.168.50.2', 'dst.port': 10250, bytes: 700, packets: 2 },
    ]
      .map((f) => JSON.stringify({ start: '2026-11-26T10:00:00.000Z', end: '2026-11-26T10:00:10.000Z', transport: 'tcp', ...f }))
      .join('\n') + '\n',
  );
  const config = join(dir, 'zonetap.yaml');
  writeFileSync(
    config,
    `receivers:
  replay: { path: ${flows}, interval: 100ms }
processors:
  k8sattributes:
    kubeconfig: ${server.writeKubeconfig(join(dir, 'kubeconfig'))}
    sync_timeout: 20s
  crosszone: {}
exporters:
  flowlog: { path: ${out} }
service:
  pipelines:
    flows: { receivers: [replay], processors: [k8sattributes, crosszone], exporters: [flowlog] }
  telemetry:
    metrics: { endpoint: "127.0.0.1:0" }
`,
  );
  const child = spawn(join(root, 'bin/zonetap'), ['run', '--config', config], { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  try {
    const lines = await eventually(() => {
      assert.ok(existsSync(out), `no flow log yet; stderr: ${stderr}`);
      const text = readFileSync(out, 'utf8').trim();
      const parsed = text ? text.split('\n').map((l) => JSON.parse(l)) : [];
      assert.equal(parsed.length, 2, `stderr: ${stderr}`);
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
    child.kill('SIGTERM');
    await once(child, 'exit');
  }
});
