/**
 * What a failing drain step does to the flows: once the kernel table is
 * drained, an error reading the overflow counters must not discard the flows
 * (they are out of the kernel); a failed drain itself is logged truthfully and
 * counted. Faults are injected by replacing KernelFlowTable methods for one
 * test; the kernel side is real. Loopback traffic in its own network namespace.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { capturedLogger, meteredSettings, metricTotal as total, RecordingConsumer } from '../../test/support/components.ts';
import { inNetns, LoopbackNetns } from '../../test/support/netns.ts';
import { privilegeProblem, requirePrivileges } from '../../test/support/privileges.ts';
import { netfilterConfigSchema } from './config.ts';
import { KernelFlowTable } from '../../native/index.ts';
import { NetfilterReceiver } from './receiver.ts';

const netns = new LoopbackNetns('zt-nfdrainerr');

before(() => {
  if (!privilegeProblem()) netns.create();
});
after(() => {
  if (!privilegeProblem()) netns.destroy();
});

function setup(id: string) {
  const { settings, collect } = meteredSettings(id, 'receiver');
  const { logger, lines: logs } = capturedLogger('info');
  settings.logger = logger;
  const sink = new RecordingConsumer();
  const receiver = new NetfilterReceiver(settings, netfilterConfigSchema.parse({ interval: '1h', netns: netns.path }), sink);
  return { receiver, sink, logs, collect };
}

test('overflow counters that cannot be read after a drain: the drained flows are still handed on, the error logged and counted', async (t) => {
  if (!requirePrivileges(t)) return;
  const { receiver, sink, logs, collect } = setup('netfilter/overflow-error');
  await receiver.start(); // reads the overflow counters once, unpatched
  const overflow = Object.getOwnPropertyDescriptor(KernelFlowTable.prototype, 'overflow')!;
  try {
    // Echo requests 127.0.0.1 -> 127.0.0.2 and their replies.
    inNetns(netns.name, 'ping', '-q', '-c', '3', '-i', '0.2', '127.0.0.2');
    KernelFlowTable.prototype.overflow = () => {
      throw new Error('injected: cannot read overflow');
    };
  } finally {
    await receiver.shutdown(); // the final drain
    Object.defineProperty(KernelFlowTable.prototype, 'overflow', overflow);
  }
  const requests = sink.records.filter((r) => r.transport === 'icmp' && r.src.address === '127.0.0.1' && r.dst.address === '127.0.0.2');
  assert.equal(requests.reduce((n, r) => n + r.packets, 0), 3, 'the three echo requests drained before the error reached the consumer');
  assert.ok(requests.every((r) => r.bytes === 84 * r.packets), 'ICMP echo of 56 data bytes: 84 bytes per IPv4 packet');
  assert.ok(!sink.records.some((r) => r.transport === 'overflow'), 'no overflow record without overflow counters');

  const metrics = await collect();
  assert.equal(total(metrics, 'zonetap.receiver.drain.stats_errors'), 1);
  assert.equal(total(metrics, 'zonetap.receiver.drain.failures') ?? 0, 0);
  assert.ok(logs.some((l) => l.includes('cannot read overflow counters after a drain; the drained flows are still handed on') && l.includes('injected: cannot read overflow')), logs.join(''));
});

test('a failed drain is counted and logged with what it loses', async (t) => {
  if (!requirePrivileges(t)) return;
  const { receiver, sink, logs, collect } = setup('netfilter/drain-error');
  await receiver.start();
  const drainRaw = Object.getOwnPropertyDescriptor(KernelFlowTable.prototype, 'drainRaw')!;
  try {
    KernelFlowTable.prototype.drainRaw = () => Promise.reject(new Error('injected: cannot drain'));
  } finally {
    await receiver.shutdown();
    Object.defineProperty(KernelFlowTable.prototype, 'drainRaw', drainRaw);
  }
  assert.equal(sink.records.length, 0);
  const metrics = await collect();
  assert.equal(total(metrics, 'zonetap.receiver.drain.failures'), 1);
  const line = logs.find((l) => l.includes('injected: cannot drain'));
  assert.ok(line, logs.join(''));
  assert.match(line, /final drain failed; if it failed after the table swap, the flows read before the failure are lost .*zonetap_receiver_drain_failures_total/);
  assert.doesNotMatch(line, /stay in the kernel table/);
});
