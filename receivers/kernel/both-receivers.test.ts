/**
 * Both kernel receivers in one process, on one node: a pod's packets leave its
 * socket (the cgroup receiver counts them there) and then cross the node's
 * POSTROUTING (the netfilter receiver would count them again). With both
 * present, the netfilter receiver skips what the cgroup receiver counted
 * (bpf/socket_sources.bpf.h) and counts only the rest: every packet that left
 * is counted exactly once. Its own file: receivers declare themselves to the
 * whole process. Needs root (skips outside CI).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { relative } from 'node:path';
import { privilegeProblem, requirePrivileges } from '../../test/support/privileges.ts';
import { KubeletCgroups, cgroupMount } from '../../test/support/cgroups.ts';
import { RecordingConsumer, testSettings } from '../../test/support/components.ts';
import { cgroupConfigSchema, CgroupReceiver } from '../cgroup/index.ts';
import { netfilterConfigSchema, NetfilterReceiver } from '../netfilter/index.ts';
import { ADDRESSES, NetnsPair } from '../../test/support/netns.ts';
import { cgroupCommand } from '../../test/support/cgroups.ts';
import { only, pingWire, total, udpWire } from '../../test/support/kernel-flows.ts';

const pair = new NetnsPair('zt-both');
const cgroups = new KubeletCgroups(`zt-both-${process.pid}`);

before(() => {
  if (!privilegeProblem('netfilter')) pair.create();
});
after(() => {
  cgroups.remove();
  pair.destroy();
});

test('netfilter and cgroup receivers in one process count every packet once', async (t) => {
  if (!requirePrivileges(t, 'netfilter')) return;
  const pod = cgroups.pod('burstable');
  const atPostrouting = new RecordingConsumer();
  const atSockets = new RecordingConsumer();
  const netfilter = new NetfilterReceiver(testSettings('netfilter', 'receiver'), netfilterConfigSchema.parse({ interval: '1h', netns: pair.pathA }), atPostrouting);
  const cgroup = new CgroupReceiver(
    testSettings('cgroup', 'receiver'),
    cgroupConfigSchema.parse({ interval: '1h', cgroup_root: cgroupMount(), cgroup_path: `/${relative(cgroupMount(), cgroups.base)}` }),
    atSockets,
  );
  await netfilter.start();
  await cgroup.start();
  const before = pair.countersA();
  let ports = { pod4: 0, pod6: 0, host: 0 };
  try {
    // From the pod's sockets: counted at the socket, skipped at POSTROUTING.
    ports.pod4 = (await pair.traffic(pair.a, ['udp', ADDRESSES.b4, '9', '100,1000,3000', '2'], undefined, pod.container)).port;
    ports.pod6 = (await pair.traffic(pair.a, ['udp', ADDRESSES.b6, '9', '100,1000,3000', '2'], undefined, pod.container)).port;
    execFileSync(...cgroupCommand(pod.container, 'ip', 'netns', 'exec', pair.a, 'ping', '-q', '-c', '2', '-i', '0.2', ADDRESSES.b4), { stdio: 'ignore' });
    // From a process outside the cgroup the receiver is attached to: only POSTROUTING counts it.
    ports.host = (await pair.traffic(pair.a, ['udp', ADDRESSES.b4, '9', '500', '3'])).port;
  } finally {
    await cgroup.shutdown();
    await netfilter.shutdown();
  }
  const after = pair.countersA();

  const sizes = (v6: boolean) => [100, 1000, 3000].map((s) => udpWire(s, v6)).reduce((a, w) => ({ bytes: a.bytes + 2 * w.bytes, packets: a.packets + 2 * w.packets }), { bytes: 0, packets: 0 });
  assert.deepEqual(total(only(atSockets.records, { sport: ports.pod4, transport: 'udp' })), sizes(false));
  assert.deepEqual(total(only(atSockets.records, { sport: ports.pod6, transport: 'udp' })), sizes(true));
  assert.deepEqual(total(only(atSockets.records, { transport: 'icmp' })), { bytes: 2 * pingWire(56, false).bytes, packets: 2 });
  assert.deepEqual(only(atPostrouting.records, { sport: ports.pod4 }), [], 'the pod\'s IPv4 packets are not counted again at POSTROUTING');
  assert.deepEqual(only(atPostrouting.records, { sport: ports.pod6 }), [], 'nor its IPv6 packets');
  assert.deepEqual(only(atPostrouting.records, { transport: 'icmp' }), [], 'nor its pings');
  assert.deepEqual(total(only(atPostrouting.records, { sport: ports.host })), { bytes: 3 * udpWire(500, false).bytes, packets: 3 }, 'traffic of other sockets is counted at POSTROUTING');
  assert.deepEqual(only(atSockets.records, { sport: ports.host }), []);
  // Independent check: what left A by the veth's counters was counted exactly once, by one of the two.
  const frames = after.txPackets - before.txPackets;
  assert.deepEqual(total([...atSockets.records, ...atPostrouting.records]), { bytes: after.txBytes - before.txBytes - 14 * frames, packets: frames });
});
