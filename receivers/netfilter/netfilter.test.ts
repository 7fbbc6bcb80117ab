/**
 * The netfilter receiver on the real kernel: two network namespaces A and B
 * joined by a veth pair; the receiver attaches inside A (`netns`), programs in
 * A send known traffic to B, and the counted flows are compared with what was
 * sent. Needs root (skips outside CI, fails in CI without it).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { availableParallelism, tmpdir } from 'node:os';
import { mkdtempSync, rmSync } from 'node:fs';
import type { ChildProcess } from 'node:child_process';
import { meteredSettings, metricTotal, RecordingConsumer, testSettings } from '../../test/support/components.ts';
import { ADDRESSES, NetnsPair, sh } from '../../test/support/netns.ts';
import { until } from '../../test/support/poll.ts';
import { privilegeProblem, requirePrivileges } from '../../test/support/privileges.ts';
import { only, tcpWire, total, udpWire } from '../../test/support/kernel-flows.ts';
import { isNetfilterLink, linksOf, perCpuCounter, programsExist } from '../../test/support/bpftool.ts';
import type { FlowRecord } from '../../pipeline/flow.ts';
import { netfilterConfigSchema } from './config.ts';
import { NetfilterReceiver, OVERFLOW_TRANSPORT } from './receiver.ts';
import { DRAIN_CHUNK_RECORDS, KernelFlowTable, bpfError, nativeModule, openProgramFile, type FlowTableOptions } from '../../native/index.ts';

const KERNEL_TESTDATA = join(import.meta.dirname, '..', 'kernel', 'testdata');
const RUN_RECEIVER = join(KERNEL_TESTDATA, 'run-receiver.ts');
const FLOOD_SCRIPT = join(KERNEL_TESTDATA, 'flood.py');
const IPV6_OPTIONS_SCRIPT = join(KERNEL_TESTDATA, 'ipv6_options.py');
const UDP_SIZES = [1, 100, 1000, 1400, 3000, 9000];

/** The netfilter flow table attached in `netns` for both families, with test-only options. */
function openNetfilter(netns: string, options: Omit<FlowTableOptions, 'kind'>): KernelFlowTable {
  const table = KernelFlowTable.open({ kind: 'netfilter', ...options });
  table.attachNetfilter('ipv4', netns);
  table.attachNetfilter('ipv6', netns);
  return table;
}

describe('netfilter receiver on the kernel', { concurrency: false }, () => {
  const pair = new NetnsPair('zt-nf');
  let sink: ChildProcess | undefined;

  before(async () => {
    if (privilegeProblem()) return;
    pair.create();
    // Fixed TCP header sizes for the TCP expectation: no timestamps, SACK or window scaling.
    pair.sysctlA('net.ipv4.tcp_timestamps=0');
    pair.sysctlA('net.ipv4.tcp_sack=0');
    pair.sysctlA('net.ipv4.tcp_window_scaling=0');
    sink = await pair.background(pair.b, ['tcp-sink', '5001']);
  });

  after(() => {
    sink?.kill('SIGKILL');
    pair.destroy();
  });

  /** Starts a receiver inside A, runs `traffic`, shuts it down (final drain) and returns every record. */
  async function count(config: Record<string, unknown>, traffic: () => Promise<void>) {
    const { settings, collect } = meteredSettings('netfilter', 'receiver');
    const recorded = new RecordingConsumer();
    const receiver = new NetfilterReceiver(settings, netfilterConfigSchema.parse({ interval: '1h', netns: pair.pathA, ...config }), recorded);
    await receiver.start();
    try {
      await traffic();
    } finally {
      await receiver.shutdown();
    }
    assert.ok(recorded.asColumns.every(Boolean), 'the kernel receivers hand on columns');
    return { records: recorded.records, batches: recorded.batches, collect };
  }

  test('UDP datagrams of several sizes and ICMP echo, IPv4 and IPv6: exact bytes and packets', async (t) => {
    if (!requirePrivileges(t)) return;
    let before = pair.countersA();
    let after = before;
    let ports = { v4: 0, v6: 0 };
    const { records } = await count({}, async () => {
      before = pair.countersA();
      ports.v4 = (await pair.traffic(pair.a, ['udp', ADDRESSES.b4, '9', UDP_SIZES.join(','), '3'])).port;
      ports.v6 = (await pair.traffic(pair.a, ['udp', ADDRESSES.b6, '9', UDP_SIZES.join(','), '3'])).port;
      pair.exec(pair.a, 'ping', ['-q', '-c', '3', '-i', '0.2', '-s', '56', ADDRESSES.b4]);
      pair.exec(pair.a, 'ping', ['-q', '-6', '-c', '3', '-i', '0.2', '-s', '56', ADDRESSES.b6]);
      after = pair.countersA();
    });

    for (const [v6, src, dst, port] of [[false, ADDRESSES.a4, ADDRESSES.b4, ports.v4], [true, ADDRESSES.a6, ADDRESSES.b6, ports.v6]] as const) {
      const expected = UDP_SIZES.map((size) => udpWire(size, v6)).reduce((t, w) => ({ bytes: t.bytes + 3 * w.bytes, packets: t.packets + 3 * w.packets }), { bytes: 0, packets: 0 });
      const udp = only(records, { src, dst, sport: port, dport: 9, transport: 'udp' });
      assert.ok(udp.length >= 1, `a UDP flow ${src}:${port} -> ${dst}:9`);
      assert.deepEqual(total(udp), expected, `UDP ${v6 ? 'IPv6' : 'IPv4'}: IP bytes and packets including fragments`);
      assert.equal(udp[0]!.ipFamily, v6 ? 'ipv6' : 'ipv4');
      // Echo requests: IP header + 8-byte ICMP header + 56 bytes of data, ports 0.
      const icmp = only(records, { src, dst, transport: v6 ? 'icmpv6' : 'icmp' });
      assert.deepEqual(total(icmp), { bytes: 3 * ((v6 ? 40 : 20) + 8 + 56), packets: 3 }, `ping ${v6 ? 'IPv6' : 'IPv4'}`);
      assert.deepEqual([icmp[0]!.src.port, icmp[0]!.dst.port], [0, 0]);
    }

    // Independent check: everything A sent through the veth, by the driver's
    // own counters (each frame is the IP packet plus a 14-byte Ethernet header;
    // static neighbours mean no ARP frames). The hook saw the same packets.
    const framesSent = after.txPackets - before.txPackets;
    assert.deepEqual(total(records), { bytes: after.txBytes - before.txBytes - 14 * framesSent, packets: framesSent });
  });

  for (const offload of ['on', 'off'] as const) {
    test(`TCP bulk transfer, segmentation offload ${offload}: packets and bytes as on the wire`, async (t) => {
      if (!requirePrivileges(t)) return;
      pair.exec(pair.a, 'ethtool', ['-K', 'zta0', 'tso', offload, 'gso', offload]);
      const payload = 3_000_000;
      for (const v6 of [false, true]) {
        const tcpBefore = pair.tcpCountersA();
        let port = 0;
        let [before, after] = [pair.countersA(), pair.countersA()];
        const { records } = await count({}, async () => {
          before = pair.countersA();
          port = (await pair.traffic(pair.a, ['tcp', v6 ? ADDRESSES.b6 : ADDRESSES.b4, '5001', String(payload)])).port;
          after = pair.countersA();
        });
        // The kernel's own count of TCP segments A sent (tcp_skb_pcount: a GSO
        // super-packet counts as the segments it becomes): SYN, data, FIN and
        // ACKs of this one connection. No retransmissions on a veth, checked.
        const tcpAfter = pair.tcpCountersA();
        const segments = tcpAfter.segments - tcpBefore.segments;
        assert.equal(tcpAfter.retransmitted - tcpBefore.retransmitted, 0, 'no retransmissions');
        const expected = tcpWire(payload, segments, v6);
        const flow = only(records, { src: v6 ? ADDRESSES.a6 : ADDRESSES.a4, sport: port, dport: 5001, transport: 'tcp' });
        assert.deepEqual(total(flow), expected, `TCP ${v6 ? 'IPv6' : 'IPv4'} offload ${offload}`);
        // TCP builds GSO super-packets whatever the device offers (Linux >= 4.x
        // always uses GSO); "off" only moves segmentation from the veth into
        // the stack, before the driver. Either way the hook sees super-packets:
        if (!v6) assert.ok(tcpAfter.ipPackets - tcpBefore.ipPackets < segments, 'GSO packets reached the hook');
        if (offload === 'off') {
          // Segmented before the driver, so the veth's own counters see the
          // wire packets (frames = IP packet + 14 bytes): a second, independent check.
          const frames = after.txPackets - before.txPackets;
          assert.deepEqual(total(records), { bytes: after.txBytes - before.txBytes - 14 * frames, packets: frames }, 'veth counters');
        }
      }
    });
  }

  test('IPv6 extension headers (hop-by-hop, destination options) are walked to the UDP ports', async (t) => {
    if (!requirePrivileges(t)) return;
    const size = 100;
    const datagrams = 5;
    let port = 0;
    const { records } = await count({ ip_families: ['ipv6'] }, async () => {
      ({ port } = await pair.run(pair.a, ['python3', IPV6_OPTIONS_SCRIPT, ADDRESSES.b6, '9', String(size), String(datagrams)]));
    });
    const flows = only(records, { src: ADDRESSES.a6, dst: ADDRESSES.b6 });
    assert.deepEqual(
      flows.map((r) => [r.transport, r.src.port, r.dst.port]),
      [['udp', port, 9]],
      'one UDP flow with its ports, found behind two extension headers',
    );
    // IPv6 header + hop-by-hop (8) + destination options (8) + UDP header + payload.
    assert.deepEqual(total(flows), { bytes: datagrams * (40 + 8 + 8 + 8 + size), packets: datagrams });
  });

  test('per-field header reads (the path kernels before 6.18 take) count the same', async (t) => {
    if (!requirePrivileges(t)) return;
    const table = openNetfilter(pair.pathA, { maxFlows: 1024, wideHeaderLoads: false });
    const records: FlowRecord[] = [];
    try {
      const segs0 = pair.tcpCountersA().segments;
      const udp = await pair.traffic(pair.a, ['udp', ADDRESSES.b4, '9', UDP_SIZES.join(','), '2']);
      const tcp = await pair.traffic(pair.a, ['tcp', ADDRESSES.b4, '5001', '1000000']);
      const segments = pair.tcpCountersA().segments - segs0;
      const udp6 = await pair.traffic(pair.a, ['udp', ADDRESSES.b6, '9', '100', '3']);
      const options6 = await pair.run(pair.a, ['python3', IPV6_OPTIONS_SCRIPT, ADDRESSES.b6, '9', '100', '2']);
      records.push(...(await table.drain()).records);
      assert.deepEqual(total(only(records, { src: ADDRESSES.a6, dst: ADDRESSES.b6, sport: udp6.port, dport: 9, transport: 'udp' })), { bytes: 3 * 148, packets: 3 });
      assert.deepEqual(total(only(records, { src: ADDRESSES.a6, dst: ADDRESSES.b6, sport: options6.port, dport: 9, transport: 'udp' })), { bytes: 2 * 164, packets: 2 });
      const expected = UDP_SIZES.map((size) => udpWire(size, false)).reduce((t, w) => ({ bytes: t.bytes + 2 * w.bytes, packets: t.packets + 2 * w.packets }), { bytes: 0, packets: 0 });
      assert.deepEqual(total(only(records, { sport: udp.port, dport: 9, transport: 'udp' })), expected);
      assert.deepEqual(total(only(records, { sport: tcp.port, dport: 5001, transport: 'tcp' })), tcpWire(1_000_000, segments, false));
    } finally {
      table.close();
    }
  });

  test('overflow: max_flows 64 and 2000 flows conserve bytes and report the dropped flows', async (t) => {
    if (!requirePrivileges(t)) return;
    // More flows than the 64-entry table and the per-CPU caches in front of it can hold.
    const flows = 2000;
    const size = 100;
    const { records, collect } = await count({ max_flows: 64, ip_families: ['ipv4'] }, async () => {
      await pair.traffic(pair.a, ['flows', ADDRESSES.b4, '20000', String(flows), String(size)]);
    });
    const counted = only(records, { src: ADDRESSES.a4, dst: ADDRESSES.b4, transport: 'udp' });
    const overflow = only(records, { transport: OVERFLOW_TRANSPORT });
    // The table holds max_flows flows; the per-CPU flow caches in front of it
    // hold some more (at most one per slot and CPU), the rest overflow.
    const cached = nativeModule().flowCacheSlots * availableParallelism();
    assert.ok(counted.length >= 64 && counted.length <= 64 + cached && counted.length < flows, `${counted.length} flows counted`);
    assert.ok(overflow.length >= 1 && overflow.every((r) => r.ipFamily === 'ipv4' && r.src.address === ''));
    const wire = udpWire(size, false);
    assert.deepEqual(total([...counted, ...overflow]), { bytes: flows * wire.bytes, packets: flows }, 'flow bytes plus overflow bytes equal bytes sent');
    const metrics = await collect();
    assert.equal(metricTotal(metrics, 'zonetap.receiver.flows.dropped') ?? 0, flows - counted.length);
    assert.equal(metricTotal(metrics, 'zonetap.receiver.overflow.bytes') ?? 0, total(overflow).bytes);
  });

  test('a drain of more flows than one chunk goes on as several batches of the same interval, each flow in one of them once', async (t) => {
    if (!requirePrivileges(t)) return;
    // Two senders (two source ports) to 35,000 ports each: 70,000 flows, more than one chunk of DRAIN_CHUNK_RECORDS.
    const perSender = 35_000;
    const size = 10;
    assert.ok(2 * perSender > DRAIN_CHUNK_RECORDS);
    let ports: number[] = [];
    const { records, batches } = await count({ max_flows: 131_072, ip_families: ['ipv4'] }, async () => {
      ports = (await Promise.all([0, 1].map(() => pair.traffic(pair.a, ['flows', ADDRESSES.b4, '20000', String(perSender), String(size)])))).map((r) => r.port as number);
    });
    const sent = records.filter((r) => r.transport === 'udp' && r.src.address === ADDRESSES.a4 && ports.includes(r.src.port));
    const flows = new Set(sent.map((r) => `${r.src.port}>${r.dst.port}`));
    assert.equal(flows.size, 2 * perSender, 'every flow sent was counted');
    assert.equal(sent.length, 2 * perSender, 'no flow in two records');
    assert.deepEqual(total(sent), { bytes: 2 * perSender * udpWire(size, false).bytes, packets: 2 * perSender });
    assert.equal(records.filter((r) => r.transport === OVERFLOW_TRANSPORT).length, 0, 'no overflow');
    // The one (final) drain: at least two chunks, none larger than a chunk, all with the interval's start and end.
    assert.ok(batches.length >= Math.ceil(records.length / DRAIN_CHUNK_RECORDS) && batches.length >= 2, `${batches.length} batches`);
    assert.ok(batches.every((b) => b.records.length <= DRAIN_CHUNK_RECORDS));
    assert.ok(batches.every((b) => b.start === batches[0]!.start && b.end === batches[0]!.end && b.end > b.start));
  });

  test('the flows of one address pair go on in one batch: 40 pairs of 500 flows in two chunks', async (t) => {
    if (!requirePrivileges(t)) return;
    const sources = Array.from({ length: 40 }, (_, i) => `10.231.3.${i + 1}`);
    for (const ip of sources) pair.exec(pair.a, 'ip', ['addr', 'add', `${ip}/32`, 'dev', 'zta0']);
    try {
      // 40 sources x 500 source ports -> B: 20,000 flows, more than one chunk.
      const { records, batches } = await count({ max_flows: 65_536, ip_families: ['ipv4'] }, async () => {
        await pair.traffic(pair.a, ['connections', sources.join(','), ADDRESSES.b4, '9', '500', '10']);
      });
      const sent = records.filter((r) => sources.includes(r.src.address));
      assert.equal(new Set(sent.map((r) => `${r.src.address}:${r.src.port}`)).size, 20_000);
      assert.equal(sent.length, 20_000, 'each flow once');
      assert.ok(batches.length >= 2, `${batches.length} batches`);
      // In the kernel's order every pair would be in every chunk; grouped, a pair spans two
      // batches only when its group outgrew a chunk.
      const batchesOf = sources.map((ip) => batches.filter((b) => b.records.some((r) => r.src.address === ip)).length);
      assert.ok(batchesOf.every((n) => n <= 2), batchesOf.join(' '));
      assert.ok(batchesOf.filter((n) => n === 1).length >= 30, batchesOf.join(' '));
    } finally {
      for (const ip of sources) pair.exec(pair.a, 'ip', ['addr', 'del', `${ip}/32`, 'dev', 'zta0']);
    }
  });

  test('concurrency: parallel senders starting the same new flows at once lose nothing', async (t) => {
    if (!requirePrivileges(t)) return;
    const senders = 4;
    // Many more flows than the per-CPU cache's 1024 slots: the caches keep
    // evicting, so new flows reach the shared table from both CPUs at once.
    const flows = 8000;
    const rounds = 2;
    const size = 200;
    const { records, batches } = await count({ interval: '50ms' }, async () => {
      // Every sender binds source port 31000 (SO_REUSEPORT) and, from the same
      // instant, sends to destination ports 40000.. in the same order: the
      // first packets of each new flow race on both CPUs to insert it, while
      // drains swap the tables every 50 ms.
      const startAt = Date.now() + 1500;
      await Promise.all(
        Array.from({ length: senders }, () =>
          pair.traffic(pair.a, ['reuse', ADDRESSES.b4, '40000', String(flows), '31000', String(rounds), String(size), String(startAt)]),
        ),
      );
    });
    const wire = udpWire(size, false);
    const udp = only(records, { src: ADDRESSES.a4, sport: 31000, transport: 'udp' });
    const perFlow = new Map<number, number>();
    for (const r of udp) perFlow.set(r.dst.port, (perFlow.get(r.dst.port) ?? 0) + r.packets);
    const wrong = [...perFlow].filter(([, packets]) => packets !== senders * rounds);
    assert.ok(batches.length >= 2, `drains ran while the senders sent (${batches.length} batches)`);
    assert.equal(perFlow.size, flows, 'every flow counted');
    assert.deepEqual(wrong, [], 'flows with lost or extra packets (port, packets)');
    assert.deepEqual(total(udp), { bytes: flows * senders * rounds * wire.bytes, packets: flows * senders * rounds });
    assert.deepEqual(only(records, { transport: OVERFLOW_TRANSPORT }), []);
  });

  test('concurrency without the flow cache: CPUs racing to insert the same new flows into fresh tables lose nothing', async (t) => {
    if (!requirePrivileges(t)) return;
    // The per-CPU flow cache makes the shared table's insert race rare; with
    // it off every packet goes to the table. Two flooding senders pinned to
    // each CPU send from one source port (SO_REUSEPORT) to the same few flows
    // while drains swap in an empty table back to back: in every table
    // generation the first packets of each flow race from all CPUs to insert
    // it. A lost race that is not retried shows up as overflow or as missing
    // packets. (Checked: with the retry on -EEXIST removed this test fails.)
    const cpus = Math.min(availableParallelism(), 4);
    const size = 36;
    const flows = 4;
    const table = KernelFlowTable.open({ kind: 'netfilter', maxFlows: 1024, flowCache: false, insertDelayNs: 50_000 });
    table.attachNetfilter('ipv4', pair.pathA);
    let overflowed = 0;
    const records: FlowRecord[] = [];
    let drains = 0;
    try {
      let sending = true;
      const senders = Promise.all(
        Array.from({ length: cpus * 2 }, (_, i) => pair.run(pair.a, ['python3', FLOOD_SCRIPT, ADDRESSES.b4, '41000', String(flows), String(size), '2', '31100'], i % cpus)),
      ).finally(() => (sending = false));
      const drain = async () => {
        records.push(...(await table.drain()).records);
        overflowed += table.overflow().ipv4.packets;
      };
      while (sending) {
        await drain();
        drains++;
      }
      const results: { sent: number }[] = await senders;
      await drain();
      const sent = results.reduce((n, r) => n + r.sent, 0);
      assert.ok(drains >= 20, `drains ran while the senders sent (${drains})`);
      // insert_races counts the -EEXIST retries; read straight from the kernel's map.
      assert.ok(perCpuCounter(table.mapIds().insert_races!) > 0, 'the race ran: some inserts found their flow inserted by another CPU');
      const udp = only(records, { src: ADDRESSES.a4, sport: 31100, transport: 'udp' });
      assert.deepEqual(total(udp), { bytes: sent * (size + 28), packets: sent }, 'bytes and packets of all senders');
      assert.equal(overflowed, 0, 'nothing went to overflow');
    } finally {
      table.close();
    }
  });

  test('include_cidrs and exclude_cidrs keep or drop flows by address', async (t) => {
    if (!requirePrivileges(t)) return;
    const { records } = await count({ include_cidrs: ['10.231.0.0/24', 'fd00:231::/64'], exclude_cidrs: [`${ADDRESSES.b6}/128`] }, async () => {
      await pair.traffic(pair.a, ['udp', ADDRESSES.b4, '9', '100', '2']);
      await pair.traffic(pair.a, ['udp', ADDRESSES.b6, '9', '100', '2']);
    });
    assert.deepEqual(total(only(records, { dst: ADDRESSES.b4, transport: 'udp' })), { bytes: 2 * 128, packets: 2 });
    assert.deepEqual(only(records, { dst: ADDRESSES.b6 }), [], 'excluded destination');
    assert.ok(records.every((r) => r.src.address.startsWith('10.231.0.') || r.src.address.startsWith('fd00:231:') || r.dst.address.startsWith('10.231.0.')), 'only included blocks');
  });

  test('shutdown detaches: no netfilter link and no program stay behind', async (t) => {
    if (!requirePrivileges(t)) return;
    const receiver = new NetfilterReceiver(testSettings('netfilter', 'receiver'), netfilterConfigSchema.parse({ netns: pair.pathA }), new RecordingConsumer());
    await receiver.start();
    const ids = receiver.programIds;
    try {
      assert.equal(ids.length, 2);
      const links = linksOf(ids);
      assert.equal(links.length, 2, 'one link per family while running');
      assert.ok(links.every(isNetfilterLink), JSON.stringify(links));
    } finally {
      await receiver.shutdown();
    }
    await receiver.shutdown(); // idempotent
    assert.deepEqual(receiver.programIds, []);
    await until('the links to go', () => linksOf(ids).length === 0, { intervalMs: 100 });
    await until('the programs to be freed', () => !programsExist(ids), { intervalMs: 100 });
  });

  test('SIGKILL of the agent leaves nothing attached (links die with their file descriptors)', async (t) => {
    if (!requirePrivileges(t)) return;
    const child = spawn(process.execPath, [RUN_RECEIVER, 'netfilter', JSON.stringify({ netns: pair.pathA })], { stdio: ['ignore', 'pipe', 'pipe'] });
    const line = await new Promise<string>((resolve, reject) => {
      child.stdout.once('data', (d) => resolve(String(d)));
      child.once('exit', (code) => reject(new Error(`receiver exited ${code}`)));
    });
    const ids = JSON.parse(line).programIds as number[];
    try {
      assert.equal(linksOf(ids).filter(isNetfilterLink).length, 2);
    } finally {
      child.kill('SIGKILL');
      await new Promise((resolve) => child.once('exit', resolve));
    }
    await until('the links to go', () => linksOf(ids).length === 0, { intervalMs: 100 });
    await until('the programs to be freed', () => !programsExist(ids), { intervalMs: 100 });
  });

  test('without capabilities the error says which ones are missing', (t) => {
    if (!requirePrivileges(t)) return;
    // Root without any capability (bounding set emptied): the bpf() calls get EPERM.
    const res = spawnSync('setpriv', ['--inh-caps=-all', '--bounding-set=-all', '--', process.execPath, RUN_RECEIVER, 'netfilter', JSON.stringify({ netns: pair.pathA })], { encoding: 'utf8' });
    assert.equal(res.status, 1, res.stderr);
    assert.match(res.stderr, /cannot load the netfilter eBPF program \(max_flows 65536\): load the netfilter eBPF object: .*\(EPERM\); permission denied: zonetap needs CAP_BPF, CAP_PERFMON and CAP_NET_ADMIN/);
  });

  test('a program the verifier rejects: the error carries the end of the verifier log', (t) => {
    if (!requirePrivileges(t)) return;
    const dir = mkdtempSync(join(tmpdir(), 'zt-nf-'));
    try {
      const object = join(dir, 'rejected.bpf.o');
      sh('clang', ['-O2', '-g', '-target', 'bpf', `-I/usr/include/${sh('gcc', ['-dumpmachine']).trim()}`, '-c', join(import.meta.dirname, 'testdata', 'rejected.bpf.c'), '-o', object]);
      const bpf = openProgramFile(object);
      try {
        assert.throws(() => bpf.load(), (err: unknown) => {
          const message = bpfError('cannot load the eBPF program', err).message;
          assert.match(message, /^cannot load the eBPF program: load BPF object: Permission denied \(EACCES\); the kernel's verifier rejected the program; end of its log:\n/);
          assert.match(message, /invalid bpf_context access off=100 size=8/);
          return true;
        });
      } finally {
        bpf.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a network namespace path that does not exist is refused with its name', async (t) => {
    if (!requirePrivileges(t)) return;
    const missing = `/run/netns/zt-nf-missing-${process.pid}`;
    const parsed = netfilterConfigSchema.safeParse({ netns: missing });
    assert.equal(parsed.success, false);
    assert.equal(parsed.error!.issues[0]!.message, `network namespace "${missing}" does not exist`);
    assert.deepEqual(parsed.error!.issues[0]!.path, ['netns']);
    // Removed between validation and start: the attach fails and says so.
    const config = netfilterConfigSchema.parse({});
    const receiver = new NetfilterReceiver(testSettings('netfilter', 'receiver'), { ...config, netns: missing }, new RecordingConsumer());
    await assert.rejects(receiver.start(), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'ZT_BPF');
      assert.match(err.message, new RegExp(`cannot attach the ipv4 netfilter hook in network namespace ${missing}: open network namespace ${missing}: No such file or directory \\(ENOENT\\); the network namespace path does not exist`));
      return true;
    });
    await receiver.shutdown();
  });
});
