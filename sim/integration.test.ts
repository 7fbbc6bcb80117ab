/**
 * zonetap end to end on a simulated three-zone cluster: an agent per node with
 * real eBPF, a gateway, and UDP traffic of exactly known size. Bytes per
 * workload pair at the gateway's Prometheus exposition must equal the bytes
 * sent at the IP layer, counted once; a short-lived Job's bytes are its own.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sleep, until } from '../test/support/poll.ts';
import { assertPrivileged, privileged } from '../test/support/privileges.ts';
import { startPrometheus, type PrometheusServer } from '../test/support/prometheus.ts';
import { Cluster, PodProcess, listNetns, loadTopology, udpIpBytes, type PlannedPod, type Send } from './index.ts';
import { deployZonetap, type Deployment } from './deployment.ts';
import { scrape, sumOf, type Sample } from './exposition.ts';
import { SUMMARY_QUERIES } from './live-view.ts';

const TOPOLOGY = new URL('./topologies/three-zones.yaml', import.meta.url).pathname;
const BYTES = 'zonetap_network_flow_bytes_total';
const PORT = 7000;

const udp = (to: string, size: number, count: number): Send => ({ transport: 'udp', to, port: PORT, size, count, rate: 200_000 });
const v4 = (pod: PlannedPod) => pod.addresses[0];
const v6 = (pod: PlannedPod) => pod.addresses[1];

describe('zonetap on a simulated three-zone cluster', privileged(), () => {
  let cluster: Cluster;
  let deployment: Deployment;
  let prometheus: PrometheusServer | undefined;
  const workdir = mkdtempSync(join(tmpdir(), 'zt-integration-'));

  before(async () => {
    assertPrivileged();
    cluster = await Cluster.build(loadTopology(TOPOLOGY), { scenario: `zti${process.pid % 100000}` });
    deployment = await deployZonetap(cluster, { workdir, interval: '1s', provider: 'gcp', logLevel: 'info' });
    prometheus = await startPrometheus(workdir, new URL(deployment.metricsUrl).host);
  });
  after(async () => {
    await prometheus?.stop();
    await deployment?.stop();
    cluster?.destroy();
    rmSync(workdir, { recursive: true, force: true });
  });

  test('bytes per workload pair equal the bytes sent, counted once, and the Job\'s bytes are attributed to it', async () => {
    const [api0, api1, postgres, cache, job] = ['shop/api-0', 'shop/api-1', 'shop/postgres-0', 'shop/cache-0', 'batch/report-28291-x7k2p'].map((p) => cluster.pod(p)) as [
      PlannedPod, PlannedPod, PlannedPod, PlannedPod, PlannedPod,
    ];
    // Every destination listens, so no ICMP "port unreachable" comes back.
    const servers = [postgres, cache, api1].map((pod) => new PodProcess(pod.netns, { udpPort: PORT }));
    servers.push(new PodProcess(cluster.plan.internetNetns, { udpPort: PORT }));
    await Promise.all(servers.map((s) => s.listening));

    const clients = [
      new PodProcess(api0.netns, { sends: [udp(v4(postgres), 1000, 200), udp(v4(cache), 500, 50), udp('203.0.113.9', 100, 10)] }),
      new PodProcess(api1.netns, { sends: [udp(v6(postgres), 700, 100), udp(v6(cache), 300, 40)] }),
      new PodProcess(postgres.netns, { sends: [udp(v4(api1), 1200, 30)] }),
    ];
    await Promise.all(clients.map((c) => c.done));

    // The Job's pod exists only while it sends.
    await cluster.startPod(job);
    const jobRun = new PodProcess(job.netns, { sends: [udp(v4(postgres), 900, 80), udp(v6(postgres), 1000, 20)] });
    assert.deepEqual(await jobRun.done, [
      { index: 0, messages: 80, payloadBytes: 72_000 },
      { index: 1, messages: 20, payloadBytes: 20_000 },
    ]);
    cluster.stopPod(job);
    assert.equal(listNetns().includes(job.netns), false);
    const received = await Promise.all(servers.map((s) => s.stop()));
    assert.equal(received[0]!.udpDatagrams, 200 + 100 + 80 + 20, 'postgres got every datagram');

    const expected = {
      'api -> postgres': 200 * udpIpBytes(1000, 'ipv4') + 100 * udpIpBytes(700, 'ipv6'),
      'api -> cache': 50 * udpIpBytes(500, 'ipv4') + 40 * udpIpBytes(300, 'ipv6'),
      'postgres -> api': 30 * udpIpBytes(1200, 'ipv4'),
      'report -> postgres': 80 * udpIpBytes(900, 'ipv4') + 20 * udpIpBytes(1000, 'ipv6'),
      'api -> internet': 10 * udpIpBytes(100, 'ipv4'),
      'api -> cache, same zone': 50 * udpIpBytes(500, 'ipv4'),
      'api -> cache, cross zone': 40 * udpIpBytes(300, 'ipv6'),
      'report pod, a CronJob\'s': 80 * udpIpBytes(900, 'ipv4') + 20 * udpIpBytes(1000, 'ipv6'),
    };
    const measure = (s: Sample[]) => ({
      'api -> postgres': sumOf(s, BYTES, { k8s_src_owner_name: 'api', k8s_dst_owner_name: 'postgres' }),
      'api -> cache': sumOf(s, BYTES, { k8s_src_owner_name: 'api', k8s_dst_owner_name: 'cache' }),
      'postgres -> api': sumOf(s, BYTES, { k8s_src_owner_name: 'postgres', k8s_dst_owner_name: 'api' }),
      'report -> postgres': sumOf(s, BYTES, { k8s_src_owner_name: 'report', k8s_dst_owner_name: 'postgres' }),
      'api -> internet': sumOf(s, BYTES, { k8s_src_owner_name: 'api', zonetap_traffic_class: 'internet' }),
      'api -> cache, same zone': sumOf(s, BYTES, { k8s_src_owner_name: 'api', k8s_dst_owner_name: 'cache', zonetap_traffic_class: 'same_zone' }),
      'api -> cache, cross zone': sumOf(s, BYTES, { k8s_src_owner_name: 'api', k8s_dst_owner_name: 'cache', zonetap_traffic_class: 'cross_zone' }),
      'report pod, a CronJob\'s': sumOf(s, BYTES, { k8s_src_namespace: 'batch', k8s_src_name: job.spec.name, k8s_src_owner_type: 'CronJob', k8s_src_owner_name: 'report' }),
    });

    // Agents drain every second and export every second: wait until the gateway has it all,
    // then a few intervals more, so that a flow counted twice would show.
    const logs = () => [deployment.gateway, ...deployment.agents].map((p) => `--- ${p.name}:\n${p.logTail(30)}`).join('\n');
    let measured = measure([]);
    await until('every byte at the gateway', async () => {
      measured = measure(await scrape(deployment.metricsUrl));
      return Object.entries(expected).every(([k, v]) => measured[k as keyof typeof measured] >= v);
    }, { timeoutMs: 45_000, intervalMs: 1000, details: () => `measured ${JSON.stringify(measured)}\n${logs()}` }).catch(() => undefined); // the assertion below says what is missing
    await sleep(4000);
    const samples = await scrape(deployment.metricsUrl);
    assert.deepEqual(measure(samples), expected, `bytes per workload pair at the gateway; logs:\n${logs()}`);
    // Every api -> postgres byte crosses zones (zone-a and zone-b to zone-c) and is priced.
    assert.equal(sumOf(samples, BYTES, { k8s_src_owner_name: 'api', k8s_dst_owner_name: 'postgres', zonetap_traffic_class: 'cross_zone' }), expected['api -> postgres']);
    // Priced with gcp's cross-zone price, $0.01 per GiB of 2^30 bytes (processors/cost/README.md): 280,400 bytes, $0.0000026114.
    const cost = sumOf(samples, 'zonetap_network_flow_cost_usd_total', { k8s_src_owner_name: 'api', k8s_dst_owner_name: 'postgres' });
    const expectedCost = (expected['api -> postgres'] / 2 ** 30) * 0.01;
    assert.equal(expected['api -> postgres'], 280_400);
    assert.ok(Math.abs(cost - expectedCost) <= 1e-9 * expectedCost, `cross-zone cost: got $${cost}, expected $${expectedCost} (records summed in another order: relative 1e-9)`);
    // The flow log names the Job's pod too.
    assert.match(readFileSync(deployment.flowLog, 'utf8'), /"k8s\.src\.owner\.name":"report"/);

    // The PromQL the demo's summary prints works on a real Prometheus scraping the gateway.
    const apiToPostgres = 'sum(zonetap_network_flow_bytes_total{k8s_src_owner_name="api",k8s_dst_owner_name="postgres"})';
    await until('Prometheus to scrape the same total', async () => Number((await prometheus!.query(apiToPostgres))[0]?.value[1]) === expected['api -> postgres'], { intervalMs: 200 }).catch(() => undefined);
    assert.equal(Number((await prometheus!.query(apiToPostgres))[0]?.value[1]), expected['api -> postgres'], 'Prometheus scraped the same total');
    const pairs = (await prometheus!.query(SUMMARY_QUERIES.topWorkloads)).map((r) => `${r.metric.k8s_src_owner_name} -> ${r.metric.k8s_dst_owner_name}`);
    assert.ok(pairs.includes('api -> postgres') && pairs.includes('report -> postgres'), pairs.join(', '));
    const cells = (await prometheus!.query(SUMMARY_QUERIES.zoneMatrix)).map((r) => `${r.metric.src_zone} -> ${r.metric.dst_zone ?? 'internet'}`);
    assert.ok(cells.includes('zone-a -> zone-c') && cells.includes('zone-a -> zone-a') && cells.includes('zone-a -> internet'), cells.join(', '));
    const costs = await prometheus!.query(SUMMARY_QUERIES.monthlyCost);
    assert.ok(costs.some((r) => r.metric.k8s_src_owner_name === 'api'), JSON.stringify(costs));
  });
});
