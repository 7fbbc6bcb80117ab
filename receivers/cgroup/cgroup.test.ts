/**
 * The cgroup receiver on the real kernel, beyond exact counts (exact.test.ts):
 * which pod and cgroup each flow comes from (both kubelet cgroup drivers, and
 * cgroups outside pods), overflow conservation, drains racing with senders,
 * clean-up after shutdown and SIGKILL, and the privileges it needs. Network
 * namespaces and cgroups are the test's own. Needs root (skips outside CI).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join, relative } from 'node:path';
import { privilegeProblem, requirePrivileges } from '../../test/support/privileges.ts';
import { KubeletCgroups, cgroupMount } from '../../test/support/cgroups.ts';
import { meteredSettings, RecordingConsumer } from '../../test/support/components.ts';
import type { FlowRecord } from '../../pipeline/flow.ts';
import { KernelFlowTable, nativeModule } from '../../native/index.ts';
import { ADDRESSES, NetnsPair } from '../../test/support/netns.ts';
import { only, total, udpWire } from '../../test/support/kernel-flows.ts';
import { linksOf, programsExist } from '../../test/support/bpftool.ts';
import { until } from '../../test/support/poll.ts';
import { cgroupConfigSchema, type CgroupConfig } from './config.ts';
import { CgroupReceiver } from './receiver.ts';
import { OVERFLOW_TRANSPORT } from '../../pipeline/flow.ts';

const RUN_RECEIVER = join(import.meta.dirname, '..', 'kernel', 'testdata', 'run-receiver.ts');

describe('cgroup receiver on the kernel', { concurrency: false }, () => {
  const pair = new NetnsPair('zt-cg');
  const name = `zt-cg-${process.pid}`;
  const systemd = new KubeletCgroups(`${name}/systemd`, 'systemd');
  const cgroupfs = new KubeletCgroups(`${name}/cgroupfs`, 'cgroupfs');
  const base = new KubeletCgroups(name);

  before(() => {
    if (privilegeProblem('cgroup')) return;
    pair.create();
    base.other('');
  });
  after(() => {
    base.remove();
    pair.destroy();
  });

  /** The receiver's config for the test's cgroup tree (every pod of both drivers below it). */
  const config = (more: Partial<Record<keyof CgroupConfig, unknown>> = {}) =>
    cgroupConfigSchema.parse({ interval: '1h', cgroup_root: cgroupMount(), cgroup_path: `/${relative(cgroupMount(), base.base)}`, ...more });

  /** Starts a receiver, runs `traffic`, shuts it down (final drain) and returns every record. */
  async function count(more: Partial<Record<keyof CgroupConfig, unknown>>, traffic: () => Promise<void>) {
    const { settings, collect } = meteredSettings('cgroup', 'receiver');
    const recorded = new RecordingConsumer();
    const receiver = new CgroupReceiver(settings, config(more), recorded);
    await receiver.start();
    try {
      await traffic();
    } finally {
      await receiver.shutdown();
    }
    assert.ok(recorded.asColumns.every(Boolean), 'the kernel receivers hand on columns');
    return { records: recorded.records, batches: recorded.batches, collect };
  }

  test('each flow carries the sending socket\'s cgroup id, and its pod\'s UID for both kubelet drivers; none outside pods', async (t) => {
    if (!requirePrivileges(t, 'cgroup')) return;
    const podA = systemd.pod('burstable');
    const podB = cgroupfs.pod('guaranteed');
    const daemon = base.other('system.slice/node-exporter.service');
    // The flow table directly: cgroup ids as the kernel gave them.
    const table = KernelFlowTable.open({ kind: 'cgroup', maxFlows: 1024 });
    try {
      table.attachCgroup(base.base);
      for (const [cgroup, port] of [[podA.container, 7001], [podB.container, 7002], [daemon, 7003]] as const) {
        await pair.traffic(pair.a, ['udp', ADDRESSES.b4, String(port), '100', '2'], undefined, cgroup);
      }
      const { records, cgroupIds } = await table.drain();
      // A cgroup v2 id is its directory's inode number.
      assert.deepEqual(records.map((r, i) => [r.dst.port, cgroupIds![i]]).toSorted(), [
        [7001, podA.containerId],
        [7002, podB.containerId],
        [7003, statSync(daemon).ino],
      ]);
    } finally {
      table.close();
    }
    // The receiver: the pods' UIDs from the cgroup paths.
    const { records } = await count({}, async () => {
      await pair.traffic(pair.a, ['udp', ADDRESSES.b4, '7001', '100', '2'], undefined, podA.container);
      await pair.traffic(pair.a, ['udp', ADDRESSES.b6, '7002', '100', '2'], undefined, podB.container);
      await pair.traffic(pair.a, ['udp', ADDRESSES.b4, '7003', '100', '2'], undefined, daemon);
    });
    assert.deepEqual(records.map((r) => [r.dst.port, r.src.podUid ?? null]).toSorted(), [
      [7001, podA.uid],
      [7002, podB.uid],
      [7003, null],
    ]);
  });

  test('each drain moves the link to the other cache generation\'s program; every packet lands in the drain after it', async (t) => {
    if (!requirePrivileges(t, 'cgroup')) return;
    const pod = base.pod();
    const table = KernelFlowTable.open({ kind: 'cgroup', maxFlows: 1024 });
    try {
      table.attachCgroup(base.base);
      const programs = table.programs().map((p) => p.id);
      const running = () => linksOf(programs).map((l) => programs.indexOf(l.prog_id));
      assert.deepEqual(running(), [0], 'generation 0 first');
      for (const [round, port] of [7011, 7012, 7013].entries()) {
        await pair.traffic(pair.a, ['udp', ADDRESSES.b4, String(port), '100', String(round + 1)], undefined, pod.container);
        const { records } = await table.drain();
        assert.deepEqual(records.map((r) => [r.dst.port, r.packets]), [[port, round + 1]], `drain ${round + 1}: only the packets since the last drain`);
        assert.deepEqual(running(), [(round + 1) % 2], `after drain ${round + 1}`);
      }
      assert.deepEqual((await table.drain()).records, [], 'nothing left');
    } finally {
      table.close();
    }
  });

  test('a pod whose cgroup is gone by the drain is still named (it lived through one walk)', async (t) => {
    if (!requirePrivileges(t, 'cgroup')) return;
    const job = systemd.pod('besteffort');
    const records: FlowRecord[] = [];
    const recorded = new RecordingConsumer();
    const receiver = new CgroupReceiver(meteredSettings('cgroup', 'receiver').settings, config({ interval: '300ms' }), recorded);
    await receiver.start();
    try {
      await pair.traffic(pair.a, ['udp', ADDRESSES.b4, '7010', '100', '3'], undefined, job.container);
      // A drain walks the tree while the pod's cgroup still exists; then the Job's pod goes.
      await until('a drain', () => recorded.batches.length > 0, { intervalMs: 100 });
      await pair.traffic(pair.a, ['udp', ADDRESSES.b4, '7010', '100', '2'], undefined, job.container);
      spawnSync('rmdir', [job.container, join(job.container, '..')]);
    } finally {
      await receiver.shutdown();
    }
    records.push(...only(recorded.records, { dport: 7010 }));
    assert.deepEqual(total(records), { bytes: 5 * udpWire(100, false).bytes, packets: 5 });
    assert.ok(records.every((r) => r.src.podUid === job.uid), JSON.stringify(records));
  });

  test('overflow: max_flows 64 and 2000 flows conserve bytes and report the dropped flows', async (t) => {
    if (!requirePrivileges(t, 'cgroup')) return;
    const pod = systemd.pod();
    const flows = 2000;
    const size = 100;
    const { records, collect } = await count({ max_flows: 64 }, async () => {
      await pair.traffic(pair.a, ['flows', ADDRESSES.b4, '20000', String(flows), String(size)], undefined, pod.container);
    });
    const counted = only(records, { src: ADDRESSES.a4, dst: ADDRESSES.b4, transport: 'udp' });
    const overflow = only(records, { transport: OVERFLOW_TRANSPORT });
    const cached = nativeModule().flowCacheSlots * availableParallelism();
    assert.ok(counted.length >= 64 && counted.length <= 64 + cached && counted.length < flows, `${counted.length} flows counted`);
    assert.ok(overflow.length >= 1 && overflow.every((r) => r.ipFamily === 'ipv4' && r.src.address === ''));
    assert.deepEqual(total([...counted, ...overflow]), { bytes: flows * udpWire(size, false).bytes, packets: flows }, 'flow bytes plus overflow bytes equal bytes sent');
    const metrics = await collect();
    const value = (metric: string) => metrics.find((m) => m.descriptor.name === metric)?.dataPoints.reduce((n, p) => n + (p.value as number), 0);
    assert.equal(value('zonetap.receiver.flows.dropped'), flows - counted.length);
    assert.equal(value('zonetap.receiver.overflow.bytes'), total(overflow).bytes);
  });

  test('drains every 50 ms while parallel senders start the same new flows lose and double nothing', async (t) => {
    if (!requirePrivileges(t, 'cgroup')) return;
    const pod = systemd.pod();
    const senders = 4;
    const flows = 8000;
    const rounds = 2;
    const size = 200;
    const { records, batches } = await count({ interval: '50ms' }, async () => {
      const startAt = Date.now() + 1500;
      await Promise.all(
        Array.from({ length: senders }, (_, i) =>
          pair.traffic(pair.a, ['reuse', ADDRESSES.b4, '40000', String(flows), '31000', String(rounds), String(size), String(startAt)], i % availableParallelism(), pod.container),
        ),
      );
    });
    const perFlow = new Map<number, number>();
    for (const r of only(records, { src: ADDRESSES.a4, sport: 31000, transport: 'udp' })) perFlow.set(r.dst.port, (perFlow.get(r.dst.port) ?? 0) + r.packets);
    assert.ok(batches.length >= 2, `drains ran while the senders sent (${batches.length} batches)`);
    assert.equal(perFlow.size, flows, 'every flow counted');
    assert.deepEqual([...perFlow].filter(([, packets]) => packets !== senders * rounds), [], 'flows with lost or extra packets (port, packets)');
    assert.deepEqual(only(records, { transport: OVERFLOW_TRANSPORT }), []);
  });

  test('shutdown and SIGKILL leave no link and no program behind', async (t) => {
    if (!requirePrivileges(t, 'cgroup')) return;
    const receiver = new CgroupReceiver(meteredSettings('cgroup', 'receiver').settings, config(), new RecordingConsumer());
    await receiver.start();
    const ids = receiver.programIds;
    try {
      assert.equal(ids.length, 2, 'one program per cache generation');
      assert.deepEqual(linksOf(ids).map((l) => l.type), ['cgroup']);
    } finally {
      await receiver.shutdown();
    }
    await until('the link to go', () => linksOf(ids).length === 0, { intervalMs: 100 });
    await until('the program to be freed', () => !programsExist(ids), { intervalMs: 100 });

    const child = spawn(process.execPath, [RUN_RECEIVER, 'cgroup', JSON.stringify({ cgroup_root: cgroupMount(), cgroup_path: `/${relative(cgroupMount(), base.base)}` })], { stdio: ['ignore', 'pipe', 'pipe'] });
    const line = await new Promise<string>((resolve, reject) => {
      child.stdout.once('data', (d) => resolve(String(d)));
      child.once('exit', (code) => reject(new Error(`receiver exited ${code}`)));
    });
    const killed = JSON.parse(line).programIds as number[];
    assert.equal(linksOf(killed).length, 1);
    child.kill('SIGKILL');
    await new Promise((resolve) => child.once('exit', resolve));
    await until('the link to go', () => linksOf(killed).length === 0, { intervalMs: 100 });
    await until('the program to be freed', () => !programsExist(killed), { intervalMs: 100 });
  });

  test('privileges: CAP_BPF, CAP_NET_ADMIN and CAP_PERFMON suffice; without any one of them the error says which are needed', async (t) => {
    if (!requirePrivileges(t, 'cgroup')) return;
    const args = [RUN_RECEIVER, 'cgroup', JSON.stringify({ cgroup_root: cgroupMount(), cgroup_path: `/${relative(cgroupMount(), base.base)}` })];
    const all = /^Bounding set =(.*)$/m.exec(spawnSync('capsh', ['--print'], { encoding: 'utf8' }).stdout)![1]!.split(',');
    const keep = (caps: string[]) => ['--drop=' + all.filter((c) => !caps.includes(c)).join(','), '--', '-c', 'exec "$0" "$@"', process.execPath, ...args];
    const needed = ['cap_bpf', 'cap_net_admin', 'cap_perfmon'];
    const started = spawn('capsh', keep(needed), { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    started.stderr.on('data', (d) => (stderr += d));
    const line = await new Promise<string>((resolve) => {
      started.stdout.once('data', (d) => resolve(String(d)));
      started.once('exit', () => resolve(''));
    });
    started.kill('SIGKILL');
    assert.match(line, /programIds/, `started with CAP_BPF, CAP_NET_ADMIN and CAP_PERFMON only: ${stderr}`);
    for (const missing of needed) {
      const res = spawnSync('capsh', keep(needed.filter((c) => c !== missing)), { encoding: 'utf8' });
      assert.equal(res.status, 1, `still starts without ${missing}: drop it from the requirements`);
      // Without CAP_PERFMON the verifier refuses the program's pointer arithmetic (EACCES, with its
      // log); without CAP_BPF loading fails, without CAP_NET_ADMIN attaching (EPERM).
      assert.match(
        res.stderr,
        /^cannot (load the cgroup eBPF program \(max_flows 65536\): load the cgroup eBPF object|attach to the cgroup \S+: create cgroup link on \S+): .*\((EPERM|EACCES)\); (permission denied: zonetap needs CAP_BPF, CAP_PERFMON and CAP_NET_ADMIN|the kernel's verifier rejected the program)/,
        `without ${missing}: ${res.stderr}`,
      );
    }
  });
});
