/**
 * zonetap in a simulated pod's own network namespace on the real kernel. As a sidecar, run as
 * deploy/kubernetes/overlays/sidecar deploys it (its config, its environment from the downward
 * API, only its capabilities), resolving peers through a Kubernetes API (test/kube-api, filled
 * with the simulated cluster, on the pod's loopback). It counts exactly what that pod sends and
 * nothing else: not its loopback, not what it receives, not other pods' traffic. With
 * config/sidecar-otlp.yaml and hour-long intervals, SIGTERM alone brings the pod's last bytes
 * to the gateway. And config/standalone.yaml, as on a plain host with a static inventory.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parse } from 'yaml';
import { confinedCommand } from '../test/support/capabilities.ts';
import { DEPLOY, find, kustomize, podSpec } from '../test/support/manifests.ts';
import type { Json } from '../test/support/manifests.ts';
import { fetchInNetns } from '../test/support/netns.ts';
import { containerEnv } from '../test/support/pod-env.ts';
import { eventually, sleep, until } from '../test/support/poll.ts';
import { assertPrivileged, privileged } from '../test/support/privileges.ts';
import { REPO, ZONETAP, startProgram, type RunningProgram } from '../test/support/processes.ts';
import { Cluster, PodProcess, loadTopology, parseExposition, sumOf, udpIpBytes, writeInventory, type PlannedPod, type Sample, type Send } from './index.ts';

const TOPOLOGY = new URL('./topologies/sidecar.yaml', import.meta.url).pathname;
const BYTES = 'zonetap_network_flow_bytes_total';
const PACKETS = 'zonetap_network_flow_packets_total';
const PORT = 7000;
const udp = (to: string, size: number, count: number): Send => ({ transport: 'udp', to, port: PORT, size, count, rate: 200_000 });

describe('zonetap in a simulated pod: as a sidecar, and standalone', privileged(), () => {
  const workdir = mkdtempSync(join(tmpdir(), 'zt-sidecar-'));
  const processes: RunningProgram[] = [];
  let cluster: Cluster;
  let db: PlannedPod;
  let kubeconfig: string;
  /** The sidecar as the overlay deploys it. */
  let container: Json;

  before(async () => {
    assertPrivileged();
    cluster = await Cluster.build(loadTopology(TOPOLOGY), { scenario: `zts${process.pid % 100000}` });
    db = cluster.pod('shop/postgres-0');
    const inventory = join(workdir, 'inventory.yaml');
    writeInventory(cluster.plan, inventory);
    // The API server, filled with the simulated cluster, on the pod's own loopback: the sidecar's
    // watch traffic stays inside the pod (in a cluster it leaves the pod, and is counted as the pod's).
    const api = inPod(db.netns, [process.execPath, join(REPO, 'test', 'kube-api', 'serve.ts'), '--inventory', inventory]);
    const { url } = JSON.parse(await until('the API server\'s ready line', () => (api.output().includes('\n') ? api.output().split('\n')[0] : undefined), { details: api.output })) as { url: string };
    kubeconfig = join(workdir, 'kubeconfig');
    writeFileSync(kubeconfig, `apiVersion: v1\nkind: Config\nclusters: [{name: sim, cluster: {server: "${url}", insecure-skip-tls-verify: true}}]\nusers: [{name: sidecar, user: {}}]\ncontexts: [{name: sim, context: {cluster: sim, user: sidecar}}]\ncurrent-context: sim\n`);
    const rendered = await kustomize(join(DEPLOY, 'kubernetes', 'overlays', 'sidecar'));
    container = podSpec(find(rendered.objects, 'StatefulSet', 'postgres')).initContainers.find((c: Json) => c.name === 'zonetap');
  });
  after(async () => {
    for (const p of processes) await p.stop('SIGKILL');
    cluster?.destroy();
    rmSync(workdir, { recursive: true, force: true });
  });

  /** Starts `command` inside `netns`, kept for clean-up; `env` is added to this process's. */
  function inPod(netns: string, command: readonly string[], env: NodeJS.ProcessEnv = {}): RunningProgram {
    const p = startProgram('ip', ['netns', 'exec', netns, ...command], { env: { ...process.env, ...env } });
    processes.push(p);
    return p;
  }

  /**
   * Starts zonetap in the pod's namespace as the overlay's container runs: `config` (plus test
   * overrides: shorter or longer intervals, the kubeconfig), the downward API environment, and
   * only the container's capabilities.
   */
  async function sidecar(config: string, overrides: Json, extraEnv: Record<string, string> = {}): Promise<RunningProgram> {
    const files = [join(REPO, 'config', config), join(workdir, `${config}.override.json`)];
    writeFileSync(files[1]!, JSON.stringify({ ...overrides, processors: { k8sattributes: { kubeconfig } } }));
    const workload = { apiVersion: 'apps/v1', kind: 'StatefulSet', metadata: { name: 'postgres' }, spec: { template: { spec: { containers: [container], volumes: [] } } } };
    const env = containerEnv(workload, { fields: { 'metadata.name': 'postgres-0', 'metadata.namespace': 'shop', 'status.podIP': db.addresses[0]! }, secrets: {}, volumesDir: workdir });
    const command = await confinedCommand(db.netns, container.securityContext.capabilities.add, [ZONETAP, 'run', ...files.flatMap((f) => ['--config', f])]);
    const p = startProgram('ip', command, { env: { ...process.env, ...env, ...extraEnv } });
    processes.push(p);
    return p;
  }

  /** Ends what a test started that is still running (after a failure), before the next test; the API server stays. */
  async function endStarted(): Promise<void> {
    for (const p of processes.slice(1)) await p.stop('SIGKILL');
  }

  const port = (name: string): number => container.ports.find((x: Json) => x.name === name).containerPort;

  /** Until the kubelet's probe would pass: /readyz on the pod IP, from inside the pod. */
  async function waitReady(p: RunningProgram): Promise<void> {
    await until('the sidecar\'s /readyz', async () => {
      assert.equal(p.child.exitCode, null, `the sidecar exited:\n${p.output()}`);
      return (await fetchInNetns(db.netns, `http://${db.addresses[0]}:${port('zt-telemetry')}/readyz`)).trim() === 'ready' || undefined;
    }, { timeoutMs: 60_000, intervalMs: 250, details: p.output });
  }

  /** What the pod sends, and, at the same time, traffic the sidecar must not count. */
  async function traffic(sends: Send[]): Promise<void> {
    const [api0, api1, postgres1] = ['shop/api-0', 'shop/api-1', 'shop/postgres-1'].map((p) => cluster.pod(p)) as [PlannedPod, PlannedPod, PlannedPod];
    const servers = [api0, api1, postgres1, db].map((pod) => new PodProcess(pod.netns, { udpPort: PORT }));
    servers.push(new PodProcess(cluster.plan.internetNetns, { udpPort: PORT }));
    await Promise.all(servers.map((s) => s.listening));
    const senders = [
      new PodProcess(db.netns, { sends }),
      // The pod's loopback, other pods to the pod, other pods among themselves.
      new PodProcess(db.netns, { sends: [udp('127.0.0.1', 500, 40), udp('::1', 500, 40)] }),
      new PodProcess(api1.netns, { sends: [udp(db.addresses[0]!, 800, 25)] }),
      new PodProcess(api0.netns, { sends: [udp(api1.addresses[0]!, 600, 30), udp(postgres1.addresses[1]!, 600, 30)] }),
    ];
    await Promise.all(senders.map((s) => s.done));
    await Promise.all(servers.map((s) => s.stop()));
  }

  test('it counts exactly what its pod sends, names both ends through the API, and nothing else', async (t) => {
    t.after(endStarted);
    const [api0, api1, postgres1] = ['shop/api-0', 'shop/api-1', 'shop/postgres-1'].map((p) => cluster.pod(p)) as [PlannedPod, PlannedPod, PlannedPod];
    const p = await sidecar('sidecar.yaml', { receivers: { netfilter: { interval: '1s' } } });
    await waitReady(p);
    await traffic([udp(api0.addresses[0]!, 1000, 50), udp(api1.addresses[0]!, 1200, 40), udp(api1.addresses[1]!, 700, 30), udp(postgres1.addresses[0]!, 900, 20), udp('203.0.113.9', 100, 10)]);

    const expected = {
      'api same_zone': 50 * udpIpBytes(1000, 'ipv4'),
      'api cross_zone': 40 * udpIpBytes(1200, 'ipv4') + 30 * udpIpBytes(700, 'ipv6'),
      'postgres cross_zone': 20 * udpIpBytes(900, 'ipv4'),
      ' internet': 10 * udpIpBytes(100, 'ipv4'),
    };
    const measure = (s: Sample[]) => {
      const out: Record<string, number> = {};
      for (const x of s.filter((x) => x.name === BYTES)) {
        const key = `${x.labels.k8s_dst_owner_name ?? ''} ${x.labels.zonetap_traffic_class}`;
        out[key] = (out[key] ?? 0) + x.value;
      }
      return out;
    };
    const metrics = `http://${db.addresses[0]}:${port('zt-metrics')}/metrics`;
    await until('every byte at the sidecar\'s /metrics', async () => {
      const seen = measure(parseExposition(await fetchInNetns(db.netns, metrics)));
      return Object.entries(expected).every(([k, v]) => (seen[k] ?? 0) >= v) || undefined;
    }, { timeoutMs: 45_000, intervalMs: 1000, details: p.output });
    // A few drains more: a flow counted twice, or traffic that is not the pod's, would show.
    await sleep(3000);
    const samples = parseExposition(await fetchInNetns(db.netns, metrics));
    assert.deepEqual(measure(samples), expected, `bytes the pod sent, by destination workload and class:\n${p.output()}`);
    assert.equal(sumOf(samples, PACKETS), 50 + 40 + 30 + 20 + 10);
    // Every flow's source is the pod itself, named through the API (StatefulSet postgres, node-a, zone-a).
    for (const s of samples.filter((x) => x.name === BYTES)) {
      assert.deepEqual(
        [s.labels.k8s_src_namespace, s.labels.k8s_src_name, s.labels.k8s_src_owner_type, s.labels.k8s_src_owner_name, s.labels.k8s_src_node_name, s.labels.src_zone],
        ['shop', 'postgres-0', 'StatefulSet', 'postgres', 'node-a', 'zone-a'],
        JSON.stringify(s.labels),
      );
    }
    assert.equal(sumOf(samples, BYTES, { k8s_dst_name: 'api-1', dst_zone: 'zone-b', k8s_dst_owner_type: 'Deployment' }), expected['api cross_zone']);
    assert.equal(sumOf(samples, 'pod_cross_zone_network_traffic_bytes_total', { namespace: 'shop', pod: 'postgres-0' }), expected['api cross_zone'] + expected['postgres cross_zone']);
    assert.ok(sumOf(samples, 'zonetap_network_flow_cost_usd_total', { zonetap_traffic_class: 'cross_zone' }) > 0, 'cross-zone bytes are priced');
    assert.equal(await p.stop('SIGTERM'), 0, p.output());
  });

  test('on SIGTERM it drains the kernel table and sends the last interval before it exits (config/sidecar-otlp.yaml)', async (t) => {
    t.after(endStarted);
    const api1 = cluster.pod('shop/api-1');
    // A stand-in for the gateway, on the pod's loopback: OTLP in, a flow log out.
    const flowLog = join(workdir, 'gateway-flows.jsonl');
    const gatewayConfig = join(workdir, 'gateway.yaml');
    writeFileSync(gatewayConfig, `receivers:\n  otlp: { protocols: { grpc: { endpoint: 127.0.0.1:14317 } } }\nexporters:\n  flowlog: { path: ${flowLog} }\nservice:\n  pipelines: { flows: { receivers: [otlp], exporters: [flowlog] } }\n  telemetry: { metrics: { endpoint: none } }\n`);
    const gateway = inPod(db.netns, [ZONETAP, 'run', '--config', gatewayConfig]);
    await until('the gateway', () => /zonetap is ready/.test(gateway.output()) || undefined, { details: gateway.output });

    // Hour-long intervals: nothing is drained or sent before the shutdown.
    const hour = { receivers: { netfilter: { interval: '1h' } }, exporters: { otlp: { interval: '1h' } } };
    const p = await sidecar('sidecar-otlp.yaml', hour, { ZONETAP_GATEWAY: '127.0.0.1:14317', ZONETAP_OTLP_TOKEN: 'test-token' });
    await waitReady(p);
    await traffic([udp(api1.addresses[0]!, 1000, 60)]);
    assert.equal(existsSync(flowLog) ? readFileSync(flowLog, 'utf8') : '', '', 'nothing was sent before the shutdown');
    assert.equal(await p.stop('SIGTERM'), 0, p.output());

    const sent = () => (existsSync(flowLog) ? readFileSync(flowLog, 'utf8') : '').split('\n').filter(Boolean).map((l) => parse(l) as Json);
    const bytesTo = (pod: string) => sent().filter((r) => r['k8s.dst.name'] === pod).reduce((n, r) => n + r.bytes, 0);
    await until('the last bytes at the gateway', () => bytesTo('api-1') >= 60 * udpIpBytes(1000, 'ipv4') || undefined, { timeoutMs: 10_000, details: () => p.output() + gateway.output() });
    assert.equal(await gateway.stop('SIGTERM'), 0, gateway.output());
    assert.equal(bytesTo('api-1'), 60 * udpIpBytes(1000, 'ipv4'), `the pod's last bytes at the gateway:\n${p.output()}`);
    assert.deepEqual([...new Set(sent().map((r) => `${r['k8s.src.name']} ${r['zonetap.traffic.class']}`))], ['postgres-0 cross_zone']);
  });

  test('config/standalone.yaml on a plain host counts, names and prices what the host sends, and writes the cross-zone flows to stdout', async (t) => {
    t.after(endStarted);
    // api-0's namespace as a host of its own: zonetap's hook in it, its inventory a file.
    const host = cluster.pod('shop/api-0');
    const [api1, postgres0] = [cluster.pod('shop/api-1'), db];
    const override = join(workdir, 'standalone.override.json');
    writeFileSync(override, JSON.stringify({ receivers: { netfilter: { interval: '1s' } } }));
    const p = inPod(host.netns, [ZONETAP, 'run', '--config', join(REPO, 'config', 'standalone.yaml'), '--config', override], { ZONETAP_INVENTORY: join(workdir, 'inventory.yaml') });
    await until('standalone zonetap', () => /zonetap is ready/.test(p.output()) || undefined, { details: p.output });
    const servers = [api1, postgres0].map((pod) => new PodProcess(pod.netns, { udpPort: PORT }));
    await Promise.all(servers.map((s) => s.listening));
    await new PodProcess(host.netns, { sends: [udp(api1.addresses[0]!, 1000, 30), udp(postgres0.addresses[1]!, 500, 20)] }).done;
    await Promise.all(servers.map((s) => s.stop()));
    const expected = { 'api api-1 cross_zone': 30 * udpIpBytes(1000, 'ipv4'), 'api postgres-0 same_zone': 20 * udpIpBytes(500, 'ipv6') };
    const measure = (samples: Sample[]) => {
      const out: Record<string, number> = {};
      for (const x of samples.filter((x) => x.name === BYTES)) {
        const key = `${x.labels.k8s_src_owner_name} ${x.labels.k8s_dst_name} ${x.labels.zonetap_traffic_class}`;
        out[key] = (out[key] ?? 0) + x.value;
      }
      return out;
    };
    const scrape = async () => parseExposition(await fetchInNetns(host.netns, 'http://127.0.0.1:9464/metrics'));
    await eventually(async () => assert.deepEqual(measure(await scrape()), expected), { timeoutMs: 45_000, intervalMs: 1000, details: p.output });
    await sleep(2000);
    const samples = await scrape();
    assert.deepEqual(measure(samples), expected, p.output());
    assert.ok(sumOf(samples, 'zonetap_network_flow_cost_usd_total', { zonetap_traffic_class: 'cross_zone' }) > 0, 'priced');
    assert.equal(await p.stop('SIGTERM'), 0, p.output());
    // The flow log on stdout: the cross-zone flow, not the same-zone one (classes filter).
    const logged = p.output().split('\n').filter((l) => l.startsWith('{"start"')).map((l) => JSON.parse(l) as Json);
    assert.deepEqual([...new Set(logged.map((r) => `${r['k8s.dst.name']} ${r['zonetap.traffic.class']}`))], ['api-1 cross_zone']);
    assert.equal(logged.reduce((n, r) => n + r.bytes, 0), expected['api api-1 cross_zone']);
  });
});
