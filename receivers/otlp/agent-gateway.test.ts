/**
 * End to end, as deployed: an agent process (replay -> otlp exporter) and a
 * gateway process (otlp receiver -> k8sattributes (static inventory) ->
 * prometheus), both `bin/zonetap run`. The gateway is killed (SIGKILL) for a
 * while and restarted; then the agent is restarted. The gateway's Prometheus
 * totals must equal what the agents counted: nothing lost, nothing doubled.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { samplesOf, scrapeMetrics } from '../../test/support/prometheus.ts';
import { freePort } from '../../test/support/loopback.ts';
import { sleep, until } from '../../test/support/poll.ts';
import { startProgram, ZONETAP, type RunningProgram } from '../../test/support/processes.ts';

const dir = mkdtempSync(join(tmpdir(), 'zt-otlp-e2e-'));
const children = new Set<RunningProgram>();
after(async () => {
  for (const c of children) await c.stop('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

const PODS = [
  { name: 'api-1', ip: '10.1.0.5', node: 'node-a' },
  { name: 'api-2', ip: '10.1.0.6', node: 'node-a' },
  { name: 'db-0', ip: '10.2.0.7', node: 'node-b' },
];

/** 12 recorded intervals of 3 flows each, with known bytes. */
function writeFlows(): { path: string; bytes: Map<string, number>; total: number } {
  const lines: string[] = [];
  const bytes = new Map<string, number>();
  const t0 = Date.parse('2026-11-26T10:00:00.000Z');
  for (let i = 0; i < 12; i++) {
    const start = new Date(t0 + i * 10_000).toISOString();
    const end = new Date(t0 + (i + 1) * 10_000).toISOString();
    const pairs: [(typeof PODS)[number], (typeof PODS)[number]][] = [[PODS[0]!, PODS[2]!], [PODS[1]!, PODS[2]!], [PODS[2]!, PODS[0]!]];
    for (const [k, [src, dst]] of pairs.entries()) {
      const n = 1000 * (k + 1) + i * 37;
      bytes.set(src.name, (bytes.get(src.name) ?? 0) + n);
      lines.push(JSON.stringify({ start, end, 'src.address': src.ip, 'src.port': 40000 + k, 'dst.address': dst.ip, 'dst.port': 5432, transport: 'tcp', bytes: n, packets: Math.ceil(n / 100) }));
    }
  }
  const path = join(dir, 'flows.jsonl');
  writeFileSync(path, lines.join('\n') + '\n');
  return { path, bytes, total: [...bytes.values()].reduce((a, b) => a + b, 0) };
}

function writeInventory(): string {
  const path = join(dir, 'inventory.yaml');
  writeFileSync(
    path,
    [
      'nodes:',
      '  - { name: node-a, zone: zone-a, region: r1, addresses: [192.168.50.1] }',
      '  - { name: node-b, zone: zone-b, region: r1, addresses: [192.168.50.2] }',
      'pods:',
      ...PODS.map((p) => `  - { namespace: shop, name: ${p.name}, node: ${p.node}, addresses: [${p.ip}], workload: { kind: Deployment, name: ${p.name.split('-')[0]} } }`),
    ].join('\n') + '\n',
  );
  return path;
}

function start(name: string, config: string): RunningProgram {
  const file = join(dir, `${name}.yaml`);
  writeFileSync(file, config);
  const program = startProgram(ZONETAP, ['run', '--config', file, '--log-level', 'info', '--shutdown-timeout', '5s']);
  children.add(program);
  void program.exited.then(() => children.delete(program));
  return program;
}

/** Sums zonetap_network_flow_bytes_total by source pod from the gateway's /metrics (throws while it is down). */
async function bytesBySourcePod(port: number): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const s of samplesOf(await scrapeMetrics(`127.0.0.1:${port}`), 'zonetap_network_flow_bytes_total')) {
    const pod = s.labels.k8s_src_name ?? '?';
    out.set(pod, (out.get(pod) ?? 0) + s.value);
  }
  return out;
}

describe('agent -> gateway over OTLP, as two zonetap processes', () => {
  test('gateway killed and restarted, then agent restarted: gateway totals equal agent totals', async () => {
    const flows = writeFlows();
    const inventory = writeInventory();
    const otlpPort = await freePort();
    const promPort = await freePort();
    const agentConfig = `
receivers:
  replay: { path: ${flows.path}, interval: 250ms }
exporters:
  otlp:
    endpoint: 127.0.0.1:${otlpPort}
    tls: { insecure: true }
    interval: 200ms
    timeout: 1s
    retry_on_failure: { initial_interval: 100ms, max_interval: 400ms }
service:
  pipelines:
    flows: { receivers: [replay], exporters: [otlp] }
  telemetry: { metrics: { endpoint: none } }
`;
    const gatewayConfig = `
receivers:
  otlp: { protocols: { grpc: { endpoint: 127.0.0.1:${otlpPort} } } }
processors:
  k8sattributes: { source: static, inventory: ${inventory} }
exporters:
  prometheus: { endpoint: 127.0.0.1:${promPort} }
service:
  pipelines:
    flows: { receivers: [otlp], processors: [k8sattributes], exporters: [prometheus] }
  telemetry: { metrics: { endpoint: none } }
`;
    let gateway = start('gateway', gatewayConfig);
    const logs = () => `gateway:\n${gateway.output()}\nagent:\n${agent.output()}`;
    let agent = start('agent', agentConfig);
    // Part of the replay reaches the gateway, then the gateway dies without a chance to flush.
    await until('first flows at the gateway', async () => (await bytesBySourcePod(promPort)).size > 0, { details: logs, intervalMs: 100 });
    await gateway.stop('SIGKILL');
    // The agent keeps counting (replay goes on) and retries with backoff.
    await until('the agent saw the outage', async () => /OTLP export failed/.test(agent.output()), { details: logs, intervalMs: 100 });
    gateway = start('gateway', gatewayConfig);
    const expected = new Map([...flows.bytes].sort());
    const sorted = async () => new Map([...(await bytesBySourcePod(promPort))].sort());
    await until('the agent totals at the restarted gateway', async () => JSON.stringify([...(await sorted())]) === JSON.stringify([...expected]), { details: logs, intervalMs: 100 });
    await sleep(800); // later exports of the same totals add nothing
    assert.deepEqual(await sorted(), expected);

    // Agent restart: a new process (new instance id, new start times) replays the same traffic again.
    assert.equal(await agent.stop('SIGTERM'), 0, agent.output());
    agent = start('agent', agentConfig);
    const doubled = new Map([...expected].map(([pod, n]) => [pod, 2 * n]));
    await until('the second agent\'s totals added', async () => JSON.stringify([...(await sorted())]) === JSON.stringify([...doubled]), { details: logs, intervalMs: 100 });
    await sleep(800);
    assert.deepEqual(await sorted(), doubled, 'old and new agent counted once each: no negative, no doubled counts');
    await agent.stop('SIGTERM');
    assert.equal(await gateway.stop('SIGTERM'), 0, gateway.output());
  });
});
