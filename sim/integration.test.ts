/**
 * zonetap end to end on a simulated three-zone cluster: an agent per node with
 * real eBPF, a gateway, and UDP traffic of exactly known size. The gateway is
 * rolled (SIGTERM, a new process) between two bursts of traffic, while the
 * agents still hold part of the first. Bytes per workload pair, as a real
 * Prometheus scraping the gateway sees them with increase() over both
 * gateway processes, must equal the bytes sent at the IP layer, counted once;
 * a short-lived Job's bytes are its own, although its pod reaches the agents'
 * inventory only after its flows were drained (as a pod that starts after
 * the agent's last resync). Twice: agents with the netfilter receiver on a
 * netfilter datapath, and with the cgroup receiver where node-b runs the eBPF
 * host-routing datapath (its netfilter never sees its pods' packets): the
 * same totals, and the hostNetwork pod named as itself.
 * RECEIVER=netfilter|cgroup runs one of the two.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { settled, until } from '../test/support/poll.ts';
import { assertPrivileged, privileged } from '../test/support/privileges.ts';
import { scrapeMetrics, startPrometheus, type PrometheusServer } from '../test/support/prometheus.ts';
import { Cluster, PodProcess, listNetns, loadTopology, udpIpBytes, type PlannedPod, type Send } from './index.ts';
import { deployZonetap, type Deployment } from './deployment.ts';
import { scrape, sumOf } from './exposition.ts';
import { SUMMARY_QUERIES } from './live-view.ts';

const TOPOLOGY = new URL('./topologies/three-zones.yaml', import.meta.url).pathname;
const BYTES = 'zonetap_network_flow_bytes_total';
const PORT = 7000;

const udp = (to: string, size: number, count: number): Send => ({ transport: 'udp', to, port: PORT, size, count, rate: 200_000 });
const v4 = (pod: PlannedPod) => pod.addresses[0];
const v6 = (pod: PlannedPod) => pod.addresses[1];

const RECEIVERS = (process.env.RECEIVER ? [process.env.RECEIVER] : ['netfilter', 'cgroup']) as Array<'netfilter' | 'cgroup'>;

for (const receiver of RECEIVERS) describe(`zonetap on a simulated three-zone cluster, ${receiver} receiver`, privileged({}, receiver), () => {
  let cluster: Cluster;
  let deployment: Deployment;
  let prometheus: PrometheusServer | undefined;
  const workdir = mkdtempSync(join(tmpdir(), 'zt-integration-'));
  const since = Date.now();

  before(async () => {
    assertPrivileged(receiver);
    const topology = loadTopology(TOPOLOGY);
    // With the cgroup receiver, node-b routes its pods around netfilter (eBPF host routing).
    if (receiver === 'cgroup') topology.nodes = topology.nodes.map((n) => (n.name === 'node-b' ? { ...n, datapath: 'host-routing' } : n));
    cluster = await Cluster.build(topology, { scenario: `zti${receiver[0]}${process.pid % 100000}` });
    // The Job's pod gets into the inventory only when the test says (publishPods), after its flows.
    deployment = await deployZonetap(cluster, { workdir, interval: '1s', provider: 'gcp', logLevel: 'info', podInventory: 'manual', receiver });
    prometheus = await startPrometheus(workdir, new URL(deployment.metricsUrl).host);
  });
  after(async () => {
    await prometheus?.stop();
    await deployment?.stop();
    cluster?.destroy();
    rmSync(workdir, { recursive: true, force: true });
  });

  test('bytes per workload pair equal the bytes sent, counted once across a gateway rollout, and the Job\'s bytes are attributed to it', async () => {
    const [api0, api1, postgres, cache, job, shipper] = ['shop/api-0', 'shop/api-1', 'shop/postgres-0', 'shop/cache-0', 'batch/report-28291-x7k2p', 'monitoring/log-shipper-x8k2d'].map((p) => cluster.pod(p)) as [
      PlannedPod, PlannedPod, PlannedPod, PlannedPod, PlannedPod, PlannedPod,
    ];
    // Every destination listens, so no ICMP "port unreachable" comes back.
    const servers = [postgres, cache, api1].map((pod) => cluster.run(pod, { udpPort: PORT }));
    servers.push(new PodProcess(cluster.plan.internetNetns, { udpPort: PORT }));
    await Promise.all(servers.map((s) => s.listening));

    const clients = [
      cluster.run(api0, { sends: [udp(v4(postgres), 1000, 200), udp(v4(cache), 500, 50), udp('203.0.113.9', 100, 10)] }),
      cluster.run(api1, { sends: [udp(v6(postgres), 700, 100), udp(v6(cache), 300, 40)] }),
      cluster.run(postgres, { sends: [udp(v4(api1), 1200, 30)] }),
      // A hostNetwork pod: its node's addresses, its own cgroup.
      cluster.run(shipper, { sends: [udp(v4(postgres), 600, 25)] }),
    ];
    await Promise.all(clients.map((c) => c.done));

    // The gateway is rolled once the first bytes reached it, while agents still hold the rest.
    const apiToPostgres = { k8s_src_owner_name: 'api', k8s_dst_owner_name: 'postgres' };
    await until('the first bytes at the gateway', async () => sumOf(await scrape(deployment.metricsUrl), BYTES, apiToPostgres) > 0);
    await deployment.rollGateway();

    // The Job's pod exists only while it sends, and the agents do not know it yet.
    const agentB = deployment.agents.find((a) => a.name === 'agent on node-b')!;
    const agentMetrics = () => scrapeMetrics(agentB.telemetryEndpoint);
    await cluster.startPod(job);
    const jobRun = cluster.run(job, { sends: [udp(v4(postgres), 900, 80), udp(v6(postgres), 1000, 20)] });
    assert.deepEqual(await jobRun.done, [
      { index: 0, messages: 80, payloadBytes: 72_000 },
      { index: 1, messages: 20, payloadBytes: 20_000 },
    ]);
    cluster.stopPod(job);
    assert.equal(listNetns().includes(job.netns), false);
    // Two drains of node-b's agent after the pod is gone: its flows have certainly been drained,
    // while its pod is still unknown there. Without holding they would be dropped now.
    const drains = async () => sumOf(await agentMetrics(), 'zonetap_receiver_drain_flows_count');
    const drainsAfterStop = await drains();
    await until('two drains of node-b\'s agent after the Job\'s pod stopped', async () => (await drains()) >= drainsAfterStop + 2);
    const heldBeforePublish = sumOf(await agentMetrics(), 'zonetap_processor_k8sattributes_held_records_total');
    assert.ok(heldBeforePublish >= 2, `node-b's agent held the Job's flows (IPv4 and IPv6): ${heldBeforePublish}`);
    // The pod object reaches the agents only now, as after a late resync.
    deployment.publishPods(job);
    const received = await Promise.all(servers.map((s) => s.stop()));
    assert.equal(received[0]!.udpDatagrams, 200 + 100 + 80 + 20 + 25, 'postgres got every datagram');

    const expected = {
      'api -> postgres': 200 * udpIpBytes(1000, 'ipv4') + 100 * udpIpBytes(700, 'ipv6'),
      'api -> cache': 50 * udpIpBytes(500, 'ipv4') + 40 * udpIpBytes(300, 'ipv6'),
      'postgres -> api': 30 * udpIpBytes(1200, 'ipv4'),
      'report -> postgres': 80 * udpIpBytes(900, 'ipv4') + 20 * udpIpBytes(1000, 'ipv6'),
      'api -> internet': 10 * udpIpBytes(100, 'ipv4'),
      'api -> cache, same zone': 50 * udpIpBytes(500, 'ipv4'),
      'api -> cache, cross zone': 40 * udpIpBytes(300, 'ipv6'),
      'report pod, a CronJob\'s': 80 * udpIpBytes(900, 'ipv4') + 20 * udpIpBytes(1000, 'ipv6'),
      // The netfilter receiver sees the hostNetwork pod's packets with its node's address: the node
      // sent them. The cgroup receiver knows its socket's cgroup: the pod sent them.
      'log-shipper -> postgres, by its sender': 25 * udpIpBytes(600, 'ipv4'),
    };
    const shipperSender: Record<string, string> = receiver === 'cgroup'
      ? { k8s_src_namespace: 'monitoring', k8s_src_name: shipper.spec.name, k8s_src_owner_type: 'DaemonSet', k8s_src_owner_name: 'log-shipper', k8s_src_host_network: 'true' }
      : { k8s_src_owner_type: 'Node', k8s_src_owner_name: 'node-a', k8s_src_host_network: 'true' };
    const workloads: Record<keyof typeof expected, Record<string, string>> = {
      'api -> postgres': apiToPostgres,
      'api -> cache': { k8s_src_owner_name: 'api', k8s_dst_owner_name: 'cache' },
      'postgres -> api': { k8s_src_owner_name: 'postgres', k8s_dst_owner_name: 'api' },
      'report -> postgres': { k8s_src_owner_name: 'report', k8s_dst_owner_name: 'postgres' },
      'api -> internet': { k8s_src_owner_name: 'api', zonetap_traffic_class: 'internet' },
      'api -> cache, same zone': { k8s_src_owner_name: 'api', k8s_dst_owner_name: 'cache', zonetap_traffic_class: 'same_zone' },
      'api -> cache, cross zone': { k8s_src_owner_name: 'api', k8s_dst_owner_name: 'cache', zonetap_traffic_class: 'cross_zone' },
      'report pod, a CronJob\'s': { k8s_src_namespace: 'batch', k8s_src_name: job.spec.name, k8s_src_owner_type: 'CronJob', k8s_src_owner_name: 'report' },
      'log-shipper -> postgres, by its sender': { ...shipperSender, k8s_dst_owner_name: 'postgres' },
    };
    const selector = (name: string, labels: Record<string, string>) => `${name}{${Object.entries(labels).map(([k, v]) => `${k}="${v}"`).join(',')}}`;
    // Prometheus' increase() over the whole run, both gateway processes (a counter reset between them).
    const measure = async () => {
      const out: Record<string, number> = {};
      for (const [name, labels] of Object.entries(workloads)) out[name] = await prometheus!.increase(selector(BYTES, labels), since);
      return out;
    };
    const logs = () => [deployment.gateway, ...deployment.agents].map((p) => `--- ${p.name}:\n${p.logTail(30)}`).join('\n');
    // Agents drain and export every second, and retry with backoff (up to 30 s) while the gateway
    // rolls: wait until every count reached its truth, then until none changed for a few intervals,
    // so that a flow counted twice would show.
    let measured: Record<string, number> = {};
    await until('every byte at Prometheus', async () => {
      measured = await measure();
      return Object.entries(expected).every(([k, v]) => measured[k]! >= v);
    }, { timeoutMs: 90_000, intervalMs: 1000, details: () => `measured ${JSON.stringify(measured)}\n${logs()}` }).catch(() => undefined); // the assertion below says what is missing
    measured = await settled('the counts at Prometheus', measure, 4000, { details: logs, timeoutMs: 60_000 });
    assert.deepEqual(measured, expected, `bytes per workload pair, increase() over both gateways; logs:\n${logs()}`);
    // Every api -> postgres byte crosses zones (zone-a and zone-b to zone-c) and is priced.
    assert.equal(await prometheus!.increase(selector(BYTES, { ...apiToPostgres, zonetap_traffic_class: 'cross_zone' }), since), expected['api -> postgres']);
    // Priced with gcp's cross-zone price, $0.01 per GiB of 2^30 bytes (processors/cost/README.md): 280,400 bytes, $0.0000026114.
    const cost = await prometheus!.increase(selector('zonetap_network_flow_cost_usd_total', apiToPostgres), since);
    const expectedCost = (expected['api -> postgres'] / 2 ** 30) * 0.01;
    assert.equal(expected['api -> postgres'], 280_400);
    assert.ok(Math.abs(cost - expectedCost) <= 1e-9 * expectedCost, `cross-zone cost: got $${cost}, expected $${expectedCost} (records summed in another order: relative 1e-9)`);
    // The flow log names the Job's pod too.
    assert.match(readFileSync(deployment.flowLog, 'utf8'), /"k8s\.src\.owner\.name":"report"/);
    // Node-b's agent resolved them late and dropped nothing for not knowing its source.
    const agentSamples = await agentMetrics();
    assert.ok(sumOf(agentSamples, 'zonetap_processor_k8sattributes_late_resolved_records_total') >= 2, 'the Job\'s flows resolved late');
    assert.equal(sumOf(agentSamples, 'zonetap_processor_k8sattributes_dropped_flows_total', { reason: 'unknown_source' }), 0);

    // The PromQL the demo's summary prints works on a real Prometheus scraping the gateway.
    const pairs = (await prometheus!.query(SUMMARY_QUERIES.topWorkloads)).map((r) => `${r.metric.k8s_src_owner_name} -> ${r.metric.k8s_dst_owner_name}`);
    assert.ok(pairs.includes('api -> postgres') && pairs.includes('report -> postgres'), pairs.join(', '));
    const cells = (await prometheus!.query(SUMMARY_QUERIES.zoneMatrix)).map((r) => `${r.metric.src_zone} -> ${r.metric.dst_zone ?? 'internet'}`);
    assert.ok(cells.includes('zone-a -> zone-c') && cells.includes('zone-a -> zone-a') && cells.includes('zone-a -> internet'), cells.join(', '));
    const costs = await prometheus!.query(SUMMARY_QUERIES.monthlyCost);
    assert.ok(costs.some((r) => r.metric.k8s_src_owner_name === 'api'), JSON.stringify(costs));
  });
});
