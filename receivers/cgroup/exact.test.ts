/**
 * The cgroup receiver counts exactly, on the real kernel: two network
 * namespaces A and B joined by a veth pair, a kubelet-shaped cgroup tree with
 * one pod, and processes in the pod's container cgroup sending from A to B.
 * Bytes and packets per flow must equal what left A (the veth's own counters,
 * the kernel's TCP segment count), each flow named with the pod's UID. Also
 * run inside a Linux 6.1 VM by test/vm/vm.test.ts. Needs root (skips outside CI).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, type ChildProcess } from 'node:child_process';
import { privilegeProblem, requirePrivileges } from '../../test/support/privileges.ts';
import { KubeletCgroups, type TestPod } from '../../test/support/cgroups.ts';
import { RecordingConsumer, testSettings } from '../../test/support/components.ts';
import type { FlowRecord } from '../../pipeline/flow.ts';
import { ADDRESSES, NetnsPair } from '../../test/support/netns.ts';
import { cgroupCommand } from '../../test/support/cgroups.ts';
import { only, pingWire, tcpWire, total, udpWire } from '../../test/support/kernel-flows.ts';
import { cgroupConfigSchema } from './config.ts';
import { CgroupReceiver } from './receiver.ts';

const UDP_SIZES = [1, 100, 1000, 1400, 3000, 9000];
const PING_SIZES = [56, 3000];

describe('cgroup receiver: exact counts at the sending sockets', { concurrency: false }, () => {
  const pair = new NetnsPair('zt-cgx');
  const cgroups = new KubeletCgroups(`zt-cgx-${process.pid}`);
  let pod: TestPod;
  let sink: ChildProcess | undefined;

  before(async () => {
    if (privilegeProblem('cgroup')) return;
    pair.create();
    // Fixed TCP header sizes for the TCP expectation: no timestamps, SACK or window scaling.
    pair.sysctlA('net.ipv4.tcp_timestamps=0');
    pair.sysctlA('net.ipv4.tcp_sack=0');
    pair.sysctlA('net.ipv4.tcp_window_scaling=0');
    pod = cgroups.pod('burstable');
    sink = await pair.background(pair.b, ['tcp-sink', '5001']);
  });

  after(() => {
    sink?.kill('SIGKILL');
    cgroups.remove();
    pair.destroy();
  });

  /** Starts a receiver on the test's kubepods cgroup, runs `traffic`, shuts it down (final drain) and returns every record. */
  async function count(traffic: () => Promise<void>): Promise<FlowRecord[]> {
    const recorded = new RecordingConsumer();
    const config = cgroupConfigSchema.parse({ interval: '1h', cgroup_root: cgroups.mount, cgroup_path: cgroups.kubepods.slice(cgroups.mount.length) });
    const receiver = new CgroupReceiver(testSettings('cgroup', 'receiver'), config, recorded);
    await receiver.start();
    try {
      await traffic();
    } finally {
      await receiver.shutdown();
    }
    return recorded.records;
  }

  /** ping from the pod's cgroup in namespace A. */
  function ping(args: string[]): void {
    execFileSync(...cgroupCommand(pod.container, 'ip', 'netns', 'exec', pair.a, 'ping', '-q', ...args), { stdio: 'ignore' });
  }

  test('UDP datagrams of several sizes and ICMP echo, IPv4 and IPv6: exact bytes and packets, fragments included, named with the pod', async (t) => {
    if (!requirePrivileges(t, 'cgroup')) return;
    let [before, after] = [pair.countersA(), pair.countersA()];
    const ports = { v4: 0, v6: 0 };
    const records = await count(async () => {
      before = pair.countersA();
      ports.v4 = (await pair.traffic(pair.a, ['udp', ADDRESSES.b4, '9', UDP_SIZES.join(','), '3'], undefined, pod.container)).port;
      ports.v6 = (await pair.traffic(pair.a, ['udp', ADDRESSES.b6, '9', UDP_SIZES.join(','), '3'], undefined, pod.container)).port;
      for (const size of PING_SIZES) {
        ping(['-c', '2', '-i', '0.2', '-s', String(size), ADDRESSES.b4]);
        ping(['-6', '-c', '2', '-i', '0.2', '-s', String(size), ADDRESSES.b6]);
      }
      after = pair.countersA();
    });

    for (const [v6, src, dst, port] of [[false, ADDRESSES.a4, ADDRESSES.b4, ports.v4], [true, ADDRESSES.a6, ADDRESSES.b6, ports.v6]] as const) {
      const expected = UDP_SIZES.map((size) => udpWire(size, v6)).reduce((s, w) => ({ bytes: s.bytes + 3 * w.bytes, packets: s.packets + 3 * w.packets }), { bytes: 0, packets: 0 });
      const udp = only(records, { src, dst, sport: port, dport: 9, transport: 'udp' });
      assert.deepEqual(total(udp), expected, `UDP ${v6 ? 'IPv6' : 'IPv4'}: IP bytes and packets including fragments`);
      assert.ok(udp.every((r) => r.src.podUid === pod.uid), 'named with the sending pod');
      const icmp = only(records, { src, dst, transport: v6 ? 'icmpv6' : 'icmp' });
      const pings = PING_SIZES.map((size) => pingWire(size, v6)).reduce((s, w) => ({ bytes: s.bytes + 2 * w.bytes, packets: s.packets + 2 * w.packets }), { bytes: 0, packets: 0 });
      assert.deepEqual(total(icmp), pings, `ping ${v6 ? 'IPv6' : 'IPv4'}, fragmented echo requests included`);
      assert.ok(icmp.every((r) => r.src.podUid === pod.uid && r.src.port === 0));
    }
    // Independent check: everything A sent through the veth, by the driver's
    // own counters (frames = IP packet + 14-byte Ethernet header; static
    // neighbours mean no ARP). Every one came from the pod's sockets.
    const frames = after.txPackets - before.txPackets;
    assert.deepEqual(total(records), { bytes: after.txBytes - before.txBytes - 14 * frames, packets: frames }, 'veth counters');
  });

  test('TCP bulk transfer with segmentation offload on, IPv4 and IPv6: packets and bytes as on the wire', async (t) => {
    if (!requirePrivileges(t, 'cgroup')) return;
    pair.exec(pair.a, 'ethtool', ['-K', 'zta0', 'tso', 'on', 'gso', 'on']);
    const payload = 3_000_000;
    for (const v6 of [false, true]) {
      const before = pair.tcpCountersA();
      let port = 0;
      const records = await count(async () => {
        port = (await pair.traffic(pair.a, ['tcp', v6 ? ADDRESSES.b6 : ADDRESSES.b4, '5001', String(payload)], undefined, pod.container)).port;
      });
      // The kernel's own count of the TCP segments A sent: SYN, data, FIN and ACKs of this one connection.
      const after = pair.tcpCountersA();
      const segments = after.segments - before.segments;
      assert.equal(after.retransmitted - before.retransmitted, 0, 'no retransmissions');
      const expected = tcpWire(payload, segments, v6);
      const flow = only(records, { src: v6 ? ADDRESSES.a6 : ADDRESSES.a4, sport: port, dport: 5001, transport: 'tcp' });
      assert.deepEqual(total(flow), expected, `TCP ${v6 ? 'IPv6' : 'IPv4'}`);
      assert.ok(flow.every((r) => r.src.podUid === pod.uid));
      // TCP hands the IP layer GSO super-packets: the hook saw fewer packets than went out.
      if (!v6) assert.ok(after.ipPackets - before.ipPackets < segments, 'GSO packets reached the hook');
    }
  });
});
