/**
 * An external block's kind and a Service's routing by zone, end to end, as
 * users run zonetap: an agent (`zonetap run`: replay -> k8sattributes with
 * the fake API server and an `external` block -> crosszone -> otlp and
 * flowlog) sends over OTLP/gRPC to a gateway (`zonetap run`: otlp ->
 * prometheus and flowlog). The attributes must arrive in the agent's flow
 * log, through OTLP in the gateway's flow log, and as Prometheus labels.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { FakeKubeApiServer, makeEndpointSlice, makeNode, makePod, makeService } from '../../test/kube-api/index.ts';
import { freePort } from '../../test/support/loopback.ts';
import { eventually } from '../../test/support/poll.ts';
import { REPO, ZONETAP, startProgram, type RunningProgram } from '../../test/support/processes.ts';
import { parseExposition } from '../../test/support/prometheus.ts';

let server: FakeKubeApiServer;
let dir: string;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'zt-external-run-'));
  server = new FakeKubeApiServer();
  await server.start();
  const s = server.store;
  s.create('nodes', makeNode({ name: 'node-a', zone: 'zone-a', region: 'region-1', internalIPs: ['192.168.70.1'] }));
  s.create('nodes', makeNode({ name: 'node-b', zone: 'zone-b', region: 'region-1', internalIPs: ['192.168.70.2'] }));
  s.create('pods', makePod({ namespace: 'shop', name: 'api-0', node: 'node-a', ips: ['10.1.0.5'], owner: { kind: 'StatefulSet', name: 'api' } }));
  s.create('pods', makePod({ namespace: 'shop', name: 'web-0', node: 'node-b', ips: ['10.2.0.5'], owner: { kind: 'StatefulSet', name: 'web' } }));
  s.create('pods', makePod({ namespace: 'shop', name: 'cart-0', node: 'node-b', ips: ['10.2.0.6'], owner: { kind: 'StatefulSet', name: 'cart' } }));
  // web routes by zone (PreferClose); cart does not.
  s.create('services', makeService({ namespace: 'shop', name: 'web', clusterIPs: ['10.96.0.5'], ports: [{ port: 8080 }], trafficDistribution: 'PreferClose' }));
  s.create('endpointslices', makeEndpointSlice({ namespace: 'shop', name: 'web-x', service: 'web', endpoints: [{ address: '10.2.0.5', pod: 'web-0' }], ports: [{ port: 8080 }] }));
  s.create('services', makeService({ namespace: 'shop', name: 'cart', clusterIPs: ['10.96.0.6'], ports: [{ port: 8080 }] }));
  s.create('endpointslices', makeEndpointSlice({ namespace: 'shop', name: 'cart-x', service: 'cart', endpoints: [{ address: '10.2.0.6', pod: 'cart-0' }], ports: [{ port: 8080 }] }));
});

after(async () => {
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** `zonetap run` with `config`, written to dir/`name`.yaml. */
function zonetapRun(name: string, config: object): RunningProgram {
  const file = join(dir, `${name}.yaml`);
  writeFileSync(file, stringify(config));
  return startProgram(ZONETAP, ['run', '--config', file], { cwd: REPO });
}

/** The lines of a flow log once it has `count` of them. */
async function flowLog(path: string, count: number, program: RunningProgram): Promise<Record<string, unknown>[]> {
  return eventually(() => {
    const text = existsSync(path) ? readFileSync(path, 'utf8').trim() : '';
    const lines = text ? text.split('\n').map((l) => JSON.parse(l) as Record<string, unknown>) : [];
    assert.equal(lines.length, count, `output: ${program.output()}`);
    return lines;
  });
}

test('an external block\'s kind and a Service\'s routing by zone reach the flow log, OTLP and Prometheus labels', { timeout: 90_000 }, async () => {
  const otlp = `127.0.0.1:${await freePort()}`;
  const metrics = `127.0.0.1:${await freePort()}`;
  const gatewayLog = join(dir, 'gateway.jsonl');
  const agentLog = join(dir, 'agent.jsonl');
  const input = join(dir, 'flows.jsonl');
  const flow = (dst: string, port: number, bytes: number) => ({ start: '2026-11-26T10:00:00.000Z', end: '2026-11-26T10:00:10.000Z', 'src.address': '10.1.0.5', 'src.port': 40000, 'dst.address': dst, 'dst.port': port, transport: 'tcp', bytes, packets: 10 });
  writeFileSync(input, [flow('10.50.0.9', 5432, 7000), flow('10.2.0.5', 8080, 3000), flow('10.2.0.6', 8080, 2000)].map((f) => JSON.stringify(f)).join('\n') + '\n');

  const gateway = zonetapRun('gateway', {
    receivers: { otlp: { protocols: { grpc: { endpoint: otlp } } } },
    exporters: { prometheus: { endpoint: metrics }, flowlog: { path: gatewayLog } },
    service: { pipelines: { flows: { receivers: ['otlp'], exporters: ['prometheus', 'flowlog'] } }, telemetry: { metrics: { endpoint: '127.0.0.1:0' } } },
  });
  const agent = zonetapRun('agent', {
    receivers: { replay: { path: input, interval: '100ms' } },
    processors: {
      k8sattributes: {
        kubeconfig: server.writeKubeconfig(join(dir, 'kubeconfig')),
        sync_timeout: '20s',
        external: [{ name: 'orders-db', cidrs: ['10.50.0.0/24'], zone: 'zone-b', region: 'region-1', kind: 'managed_service' }],
      },
      crosszone: {},
    },
    exporters: { otlp: { endpoint: otlp, tls: { insecure: true }, interval: '200ms', temporality: 'delta' }, flowlog: { path: agentLog } },
    service: { pipelines: { flows: { receivers: ['replay'], processors: ['k8sattributes', 'crosszone'], exporters: ['otlp', 'flowlog'] } }, telemetry: { metrics: { endpoint: '127.0.0.1:0' } } },
  });
  try {
    // The same three flows, in this order, in both logs: to orders-db, to web (PreferClose), to cart (neither).
    const expected = [
      { 'k8s.dst.owner.type': 'External', 'k8s.dst.owner.name': 'orders-db', 'zonetap.dst.external.kind': 'managed_service', 'k8s.dst.service.name': undefined, 'k8s.dst.service.topology_aware': undefined },
      { 'k8s.dst.owner.type': 'StatefulSet', 'k8s.dst.owner.name': 'web', 'zonetap.dst.external.kind': undefined, 'k8s.dst.service.name': 'web', 'k8s.dst.service.topology_aware': true },
      { 'k8s.dst.owner.type': 'StatefulSet', 'k8s.dst.owner.name': 'cart', 'zonetap.dst.external.kind': undefined, 'k8s.dst.service.name': 'cart', 'k8s.dst.service.topology_aware': undefined },
    ];
    const pick = (line: Record<string, unknown>) => Object.fromEntries(Object.keys(expected[0]!).map((k) => [k, line[k]]));
    const byOwner = (lines: Record<string, unknown>[]) => lines.map(pick).sort((a, b) => String(a['k8s.dst.owner.name']).localeCompare(String(b['k8s.dst.owner.name'])));
    const sortedExpected = byOwner(expected);
    assert.deepEqual(byOwner(await flowLog(agentLog, 3, agent)), sortedExpected, 'agent flow log');
    assert.deepEqual(byOwner(await flowLog(gatewayLog, 3, gateway)), sortedExpected, 'gateway flow log, after OTLP');

    const samples = await eventually(async () => {
      const text = await (await fetch(`http://${metrics}/metrics`)).text();
      const found = parseExposition(text).filter((s) => s.name === 'zonetap_network_flow_bytes_total');
      // A new label set is first exposed at 0 (exporters/prometheus), then with its bytes.
      assert.deepEqual(found.map((s) => s.value).sort((a, b) => a - b), [2000, 3000, 7000], text);
      return found;
    });
    const labelsOf = (owner: string) => samples.find((s) => s.labels.k8s_dst_owner_name === owner)!.labels;
    assert.equal(labelsOf('orders-db').zonetap_dst_external_kind, 'managed_service');
    assert.equal(labelsOf('orders-db').k8s_dst_service_topology_aware, undefined);
    assert.equal(labelsOf('web').k8s_dst_service_topology_aware, 'true');
    assert.equal(labelsOf('web').zonetap_dst_external_kind, undefined);
    assert.equal(labelsOf('cart').k8s_dst_service_topology_aware, undefined);
  } finally {
    await agent.stop();
    await gateway.stop();
  }
});
