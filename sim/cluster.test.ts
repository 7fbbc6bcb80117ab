/** The simulated cluster on the real kernel: addresses, routing, the internet, the inventory, clean-up. */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { inNetns, rootLinks, snmp } from '../test/support/netns.ts';
import { assertPrivileged, privileged } from '../test/support/privileges.ts';
import { Cluster, PodProcess, listNetns, loadTopology, parseTopology, planCluster, removeNamespaces, udpIpBytes, writeInventory } from './index.ts';

const TOPOLOGY = new URL('./topologies/three-zones.yaml', import.meta.url).pathname;
const scenario = `simt${process.pid % 100000}`;
const ping = (netns: string, address: string) => inNetns(netns, 'ping', '-c', '1', '-W', '1', address);

test('a topology with a pod on an unknown node or a zone in no region is rejected with the path', () => {
  assert.throws(
    () => parseTopology({ name: 'x', regions: { r: ['zone-a'] }, nodes: [{ name: 'n1', zone: 'zone-b' }], pods: [{ namespace: 'ns', name: 'p', node: 'n2' }] }),
    (e: Error) => e.message.includes('nodes.0.zone: zone "zone-b" is in no region') && e.message.includes('pods.0.node: unknown node "n2"'),
  );
});

test('config/demo-inventory.yaml is the inventory of sim/topologies/demo.yaml', () => {
  const dir = mkdtempSync(join(tmpdir(), 'zt-inv-'));
  try {
    writeInventory(planCluster(loadTopology(new URL('./topologies/demo.yaml', import.meta.url).pathname)), join(dir, 'inventory.yaml'));
    assert.equal(
      readFileSync(new URL('../config/demo-inventory.yaml', import.meta.url), 'utf8'),
      readFileSync(join(dir, 'inventory.yaml'), 'utf8'),
      'regenerate it: node sim/write-inventory.ts sim/topologies/demo.yaml config/demo-inventory.yaml',
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

describe('simulated cluster', privileged(), () => {
  let cluster: Cluster;
  let linksBefore: string[];
  const dir = mkdtempSync(join(tmpdir(), 'zt-sim-'));

  before(async () => {
    assertPrivileged(); // under CI=true the suite runs: say what is missing rather than fail on a side effect
    linksBefore = rootLinks();
    cluster = await Cluster.build(loadTopology(TOPOLOGY), { scenario });
  });
  after(() => {
    cluster?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  test('pods and nodes have their planned dual-stack addresses inside their own namespaces', () => {
    const api0 = cluster.pod('shop/api-0');
    const addrs = inNetns(api0.netns, 'ip', '-br', 'addr', 'show', 'eth0');
    assert.match(addrs, /10\.1\.0\.10\/32/);
    assert.match(addrs, /fd01:0:0:1::a\/128/);
    const nodeB = inNetns(cluster.node('node-b').netns, 'ip', '-br', 'addr', 'show', 'ul0');
    assert.match(nodeB, /10\.255\.0\.2\/24/);
    assert.match(nodeB, /fd00:ff::2\/64/);
    assert.equal(inNetns(cluster.node('node-a').netns, 'sysctl', '-n', 'net.ipv4.ip_forward').trim(), '1');
    // Not one simulation address leaked into the root namespace.
    assert.doesNotMatch(execFileSync('ip', ['addr'], { encoding: 'utf8' }), /10\.255\.0\.|fd01:0:0:|fd00:ff::/);
  });

  test('pods reach pods on other nodes over IPv4 and IPv6, and the internet, but nothing outside', () => {
    const from = cluster.pod('shop/api-0').netns;
    const postgres = cluster.pod('shop/postgres-0');
    assert.match(ping(from, postgres.addresses[0]), /1 received/);
    assert.match(ping(from, postgres.addresses[1]), /1 received/);
    assert.match(ping(from, cluster.pod('shop/cache-0').addresses[0]), /1 received/); // same node
    assert.match(ping(from, '203.0.113.77'), /1 received/);
    assert.match(ping(from, '2001:db8::77'), /1 received/);
    assert.throws(() => ping(from, '192.0.2.1'), (e: { stdout?: string }) => /0 received/.test(e.stdout ?? ''));
  });

  test('a pod-to-pod packet is forwarded by the source node (crossing its POSTROUTING hook) and by the destination node', () => {
    // Forwarded packets traverse FORWARD then POSTROUTING of the forwarding namespace.
    const forwarded = (netns: string) => snmp(netns, 'Ip', 'ForwDatagrams');
    const nodes = ['node-a', 'node-b', 'node-c'].map((n) => cluster.node(n).netns);
    const before = nodes.map(forwarded);
    ping(cluster.pod('shop/api-0').netns, cluster.pod('shop/postgres-0').addresses[0]);
    const delta = nodes.map((n, i) => forwarded(n) - before[i]!);
    // Echo request and reply: both cross node-a (source) and node-c (destination); node-b sees nothing.
    // The destination node's POSTROUTING sees a source that is not its own: agents keep flows by node_name.
    assert.deepEqual(delta, [2, 0, 2]);
  });

  test('UDP senders deliver exactly the bytes they report', async () => {
    const server = new PodProcess(cluster.pod('shop/postgres-0').netns, { udpPort: 7000 });
    await server.listening;
    const client = new PodProcess(cluster.pod('shop/api-1').netns, {
      sends: [
        { transport: 'udp', to: cluster.pod('shop/postgres-0').addresses[0], port: 7000, size: 1000, rate: 200_000, count: 30 },
        { transport: 'udp', to: cluster.pod('shop/postgres-0').addresses[1], port: 7000, size: 400, rate: 200_000, count: 10 },
      ],
    });
    assert.deepEqual(await client.done, [
      { index: 0, messages: 30, payloadBytes: 30_000 },
      { index: 1, messages: 10, payloadBytes: 4_000 },
    ]);
    const received = await server.stop();
    assert.deepEqual(received, { udpBytes: 34_000, udpDatagrams: 40, tcpBytes: 0 });
    assert.equal(udpIpBytes(1000, 'ipv4'), 1028);
    assert.equal(udpIpBytes(1000, 'ipv6'), 1048);
  });

  test('an ephemeral pod starts, talks and goes away with its namespace and its node-side veth', async () => {
    const job = cluster.pod('batch/report-28291-x7k2p');
    assert.equal(listNetns().includes(job.netns), false, 'ephemeral pods are not built up front');
    const seen: boolean[] = [];
    const unwatch = cluster.watchPods(() => seen.push(cluster.isRunning(job)));
    await cluster.startPod(job);
    assert.match(ping(job.netns, cluster.pod('shop/api-0').addresses[1]), /1 received/);
    cluster.stopPod(job);
    unwatch();
    assert.deepEqual(seen, [true, false], 'watchers hear of the start and the stop');
    assert.equal(listNetns().includes(job.netns), false);
    assert.doesNotMatch(inNetns(cluster.node('node-b').netns, 'ip', '-br', 'link'), new RegExp(`^p${job.index}@`, 'm'));
  });

  test('the inventory names every node and pod (ephemeral ones too) and not the internet', () => {
    const path = join(dir, 'inventory.yaml');
    writeInventory(cluster.plan, path);
    const inv = parse(readFileSync(path, 'utf8'));
    assert.deepEqual(inv.nodes[0], { name: 'node-a', zone: 'zone-a', region: 'region-1', addresses: ['10.255.0.1', 'fd00:ff::1'], podCIDRs: ['10.1.0.0/24', 'fd01:0:0:1::/64'] });
    assert.deepEqual(
      inv.pods.map((p: { name: string }) => p.name),
      ['api-0', 'api-1', 'postgres-0', 'cache-0', 'report-28291-x7k2p', 'log-shipper-x8k2d'],
    );
    assert.deepEqual(inv.pods[4], {
      namespace: 'batch',
      name: 'report-28291-x7k2p',
      workload: { kind: 'CronJob', name: 'report' },
      node: 'node-b',
      uid: cluster.pod('report-28291-x7k2p').uid,
      addresses: ['10.2.0.11', 'fd01:0:0:2::b'],
    });
    // A hostNetwork pod: its node's addresses; its UID names its flows (cgroup receiver).
    assert.deepEqual(inv.pods[5], {
      namespace: 'monitoring',
      name: 'log-shipper-x8k2d',
      workload: { kind: 'DaemonSet', name: 'log-shipper' },
      node: 'node-a',
      uid: cluster.pod('log-shipper-x8k2d').uid,
      addresses: ['10.255.0.1', 'fd00:ff::1'],
      hostNetwork: true,
    });
    assert.match(inv.pods[5].uid, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-8[0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.equal(new Set(inv.pods.map((p: { uid: string }) => p.uid)).size, inv.pods.length, 'one UID per pod');
    assert.doesNotMatch(readFileSync(path, 'utf8'), /203\.0\.113|2001:db8/);
    // As the deployment writes it while the Job's pod is not running: without it.
    writeInventory(cluster.plan, path, (p) => !p.spec.ephemeral);
    assert.deepEqual(parse(readFileSync(path, 'utf8')).pods.map((p: { name: string }) => p.name), ['api-0', 'api-1', 'postgres-0', 'cache-0', 'log-shipper-x8k2d']);
  });

  test('pod processes run in their container\'s cgroup, laid out like the kubelet\'s (systemd and cgroupfs drivers)', async () => {
    for (const [ref, layout] of [
      ['shop/api-0', /^0::\/zt-simt\d+-n-node-a\/kubepods\.slice\/kubepods-burstable\.slice\/kubepods-burstable-pod[0-9a-f_]{36}\.slice\/cri-containerd-[0-9a-f]{32}\.scope$/m],
      ['shop/postgres-0', /^0::\/zt-simt\d+-n-node-c\/kubepods\/burstable\/pod[0-9a-f-]{36}\/[0-9a-f]{32}$/m],
      ['monitoring/log-shipper-x8k2d', /^0::\/zt-simt\d+-n-node-a\/kubepods\.slice\/kubepods-burstable\.slice\/kubepods-burstable-pod[0-9a-f_]{36}\.slice\//m],
    ] as const) {
      const pod = cluster.pod(ref);
      const program = cluster.run(pod, { udpPort: 7002 });
      await program.listening;
      try {
        const cgroups = readFileSync(`/proc/${program.child.pid}/cgroup`, 'utf8');
        // `ip netns exec` replaced the shell that moved into the cgroup: the pid is the program's.
        assert.match(cgroups, layout, `${ref}: ${cgroups}`);
        assert.ok(cgroups.includes(pod.cgroup), `${ref} runs in ${pod.cgroup}`);
      } finally {
        await program.stop();
      }
    }
  });

  test('destroy leaves no namespace, cgroup, link or process behind; a rebuild first removes stale ones', async () => {
    const sleeper = cluster.run(cluster.pod('shop/cache-0'), { udpPort: 7001 });
    await sleeper.listening;
    cluster.destroy();
    cluster.destroy(); // idempotent
    assert.deepEqual(listNetns().filter((n) => n.startsWith(cluster.prefix)), []);
    assert.deepEqual(readdirSync(cluster.cgroupRoot).filter((d) => d.startsWith(cluster.prefix)), [], 'no cgroup left');
    assert.deepEqual(rootLinks(), linksBefore);
    await new Promise((resolve) => sleeper.child.once('close', resolve));
    assert.ok(sleeper.child.signalCode === 'SIGKILL' || sleeper.child.exitCode !== null, 'the process inside was ended');

    // A crashed run leaves namespaces behind: the next build removes them first.
    execFileSync('ip', ['netns', 'add', `${cluster.prefix}n-node-a`]);
    execFileSync('ip', ['netns', 'add', `${cluster.prefix}stale`]);
    mkdirSync(join(cluster.cgroupRoot, `${cluster.prefix}n-stale`, 'kubepods.slice'), { recursive: true });
    const again = await Cluster.build(loadTopology(TOPOLOGY), { scenario });
    try {
      assert.equal(listNetns().includes(`${cluster.prefix}stale`), false);
      assert.equal(existsSync(join(cluster.cgroupRoot, `${cluster.prefix}n-stale`)), false, 'a crashed run\'s cgroups are removed');
      assert.match(ping(again.pod('shop/api-0').netns, again.pod('shop/postgres-0').addresses[0]), /1 received/);
    } finally {
      again.destroy();
    }
    assert.deepEqual(removeNamespaces(cluster.prefix), []);
  });
});
