/**
 * The simulated eBPF host-routing datapath: on a `host-routing` node the tc
 * program routes pod packets around the node's IP stack, so a netfilter
 * receiver there sees none of them (and the node's own forwarding counter
 * does not move), while the cgroup receiver counts every byte at the pods'
 * sockets. A netfilter-datapath node beside it is the control: its netfilter
 * receiver does see its pods' packets.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { inNetns, snmp } from '../test/support/netns.ts';
import { assertPrivileged, privileged } from '../test/support/privileges.ts';
import { only, tcpWire, total, udpWire } from '../test/support/kernel-flows.ts';
import { KernelFlowTable } from '../native/index.ts';
import type { FlowRecord } from '../pipeline/flow.ts';
import { Cluster, PodProcess, parseTopology, type PlannedPod } from './index.ts';

const topology = parseTopology({
  name: 'hostroute',
  regions: { r: ['zone-a', 'zone-b'] },
  nodes: [
    { name: 'node-a', zone: 'zone-a', datapath: 'host-routing' },
    { name: 'node-b', zone: 'zone-b' },
  ],
  pods: [
    { namespace: 'shop', name: 'api-0', node: 'node-a' },
    { namespace: 'shop', name: 'cache-0', node: 'node-a' },
    { namespace: 'shop', name: 'db-0', node: 'node-b' },
  ],
});

describe('eBPF host routing in the simulated cluster', privileged({}, 'cgroup'), () => {
  let cluster: Cluster;
  const tables: KernelFlowTable[] = [];

  before(async () => {
    assertPrivileged('netfilter');
    cluster = await Cluster.build(topology, { scenario: `hr${process.pid % 100000}` });
  });
  after(() => {
    for (const t of tables) t.close();
    cluster?.destroy();
  });

  /** The netfilter table at a node's POSTROUTING and the cgroup table on its pods' cgroups. */
  function receiversOn(node: string) {
    const planned = cluster.node(node);
    const netfilter = KernelFlowTable.open({ kind: 'netfilter', maxFlows: 4096 });
    tables.push(netfilter);
    netfilter.attachNetfilter('ipv4', `/run/netns/${planned.netns}`);
    netfilter.attachNetfilter('ipv6', `/run/netns/${planned.netns}`);
    const cgroup = KernelFlowTable.open({ kind: 'cgroup', maxFlows: 4096 });
    tables.push(cgroup);
    cgroup.attachCgroup(join(cluster.cgroupRoot, planned.cgroup));
    return { netfilter, cgroup };
  }

  const fromPod = (records: FlowRecord[], pod: PlannedPod) => records.filter((r) => pod.addresses.includes(r.src.address));

  test('a host-routing node\'s netfilter sees none of its pods\' packets; the cgroup receiver counts every byte', async () => {
    const [api, cache, db] = ['api-0', 'cache-0', 'db-0'].map((p) => cluster.pod(p)) as [PlannedPod, PlannedPod, PlannedPod];
    const onA = receiversOn('node-a');
    const onB = receiversOn('node-b');
    const servers = [cache, db].map((pod) => cluster.run(pod, { udpPort: 7000, tcpPort: 7001 }));
    servers.push(new PodProcess(cluster.plan.internetNetns, { udpPort: 7000 }));
    await Promise.all(servers.map((s) => s.listening));
    const forwardedBefore = snmp(cluster.node('node-a').netns, 'Ip', 'ForwDatagrams');

    const sizes = [100, 1400, 3000];
    const sends = (to: string) => sizes.map((size) => ({ transport: 'udp' as const, to, port: 7000, size, count: 5, rate: 1_000_000 }));
    await cluster.run(api, { sends: [...sends(db.addresses[0]), ...sends(db.addresses[1]), ...sends(cache.addresses[0]), ...sends('203.0.113.7')] }).done;
    // TCP with fixed header sizes (no timestamps, SACK or window scaling), against the pod's own segment count.
    for (const setting of ['net.ipv4.tcp_timestamps=0', 'net.ipv4.tcp_sack=0', 'net.ipv4.tcp_window_scaling=0']) inNetns(api.netns, 'sysctl', '-q', '-w', setting);
    const segmentsBefore = snmp(api.netns, 'Tcp', 'OutSegs');
    await cluster.run(api, { sends: [{ transport: 'tcp', to: db.addresses[0], port: 7001, size: 64_000, count: 20, rate: 10_000_000 }] }).done;
    const segments = snmp(api.netns, 'Tcp', 'OutSegs') - segmentsBefore;
    // The control: a pod on the netfilter-datapath node.
    await cluster.run(db, { sends: [{ transport: 'udp', to: api.addresses[0], port: 7000, size: 500, count: 4, rate: 1_000_000 }] }).done;
    await Promise.all(servers.map((s) => s.stop()));

    const nfA = (await onA.netfilter.drain()).records;
    const cgA = (await onA.cgroup.drain()).records;
    const nfB = (await onB.netfilter.drain()).records;
    assert.deepEqual(fromPod(nfA, api), [], "node-a's netfilter hook saw no packet of its pod");
    assert.equal(snmp(cluster.node('node-a').netns, 'Ip', 'ForwDatagrams') - forwardedBefore, 0, "node-a's IP stack forwarded nothing");
    const udp = (family: 0 | 1) => sizes.map((s) => udpWire(s, family === 1)).reduce((a, w) => ({ bytes: a.bytes + 5 * w.bytes, packets: a.packets + 5 * w.packets }), { bytes: 0, packets: 0 });
    assert.deepEqual(total(only(cgA, { src: api.addresses[0], dst: db.addresses[0], transport: 'udp' })), udp(0), 'api -> db over IPv4, fragments included');
    assert.deepEqual(total(only(cgA, { src: api.addresses[1], dst: db.addresses[1], transport: 'udp' })), udp(1), 'api -> db over IPv6');
    assert.deepEqual(total(only(cgA, { dst: cache.addresses[0], transport: 'udp' })), udp(0), 'api -> cache, on the same node');
    assert.deepEqual(total(only(cgA, { dst: '203.0.113.7', transport: 'udp' })), udp(0), 'api -> the internet');
    assert.deepEqual(total(only(cgA, { src: api.addresses[0], dst: db.addresses[0], transport: 'tcp' })), tcpWire(20 * 64_000, segments, false), 'api -> db over TCP');
    // The control: on the netfilter datapath, the node's hook sees its pod's packets.
    assert.deepEqual(total(only(nfB, { src: db.addresses[0], dst: api.addresses[0], transport: 'udp' })), { bytes: 4 * udpWire(500, false).bytes, packets: 4 });
  });
});
