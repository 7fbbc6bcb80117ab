/**
 * The receiver's self-telemetry from a real drain: every series carries
 * `component_id`, and the histograms have buckets that suit what they measure
 * (seconds for drain time, flow counts for flows per drain). Runs in its own
 * network namespace with loopback traffic only.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { HistogramMetricData, MetricData } from '@opentelemetry/sdk-metrics';
import { meteredSettings, RecordingConsumer } from '../../test/support/components.ts';
import { inNetns, LoopbackNetns } from '../../test/support/netns.ts';
import { privilegeProblem, requirePrivileges } from '../../test/support/privileges.ts';
import { netfilterConfigSchema } from './config.ts';
import { NetfilterReceiver } from './receiver.ts';

const netns = new LoopbackNetns('zt-nftel');

before(() => {
  if (!privilegeProblem()) netns.create();
});
after(() => {
  if (!privilegeProblem()) netns.destroy();
});

const histogram = (metrics: MetricData[], name: string) => metrics.find((m) => m.descriptor.name === name) as HistogramMetricData | undefined;

test('self-telemetry after a drain: component_id on every series, histogram buckets in seconds and in flows', async (t) => {
  if (!requirePrivileges(t)) return;
  const { settings, collect } = meteredSettings('netfilter/node', 'receiver');
  const config = netfilterConfigSchema.parse({ interval: '1h', netns: netns.path, exclude_cidrs: ['127.0.0.2/32'] });
  const sink = new RecordingConsumer();
  const receiver = new NetfilterReceiver(settings, config, sink);
  await receiver.start();
  try {
    // Echo requests 127.0.0.1 -> 127.0.0.2 and their replies: both flows have 127.0.0.2 at one end.
    inNetns(netns.name, 'ping', '-q', '-c', '2', '-i', '0.2', '127.0.0.2');
  } finally {
    await receiver.shutdown(); // the final drain records the histograms
  }
  assert.ok(!sink.records.some((r) => r.src.address === '127.0.0.2' || r.dst.address === '127.0.0.2'), 'exclude_cidrs drops a flow when either end is in a block');

  const metrics = await collect();
  const filtered = metrics.find((m) => m.descriptor.name === 'zonetap.receiver.flows.filtered');
  assert.equal(filtered?.dataPoints.reduce((sum, p) => sum + (p.value as number), 0), 2, 'request and reply flows filtered');
  for (const m of metrics) {
    for (const p of m.dataPoints) assert.deepEqual(p.attributes, { component_id: 'netfilter/node' }, m.descriptor.name);
  }

  const seconds = histogram(metrics, 'zonetap.receiver.drain.duration_seconds');
  assert.equal(seconds?.descriptor.unit, 's');
  const [drain] = seconds!.dataPoints;
  assert.deepEqual(drain!.value.buckets.boundaries, [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5]);
  assert.equal(drain!.value.count, 1);
  assert.ok(drain!.value.sum! > 0 && drain!.value.sum! < 5, `one drain of ${drain!.value.sum}s`);

  const flows = histogram(metrics, 'zonetap.receiver.drain.flows')!.dataPoints[0]!.value;
  assert.deepEqual(flows.buckets.boundaries, [0, 10, 100, 1_000, 10_000, 65_536, 262_144, 1_048_576, 4_194_304]);
  assert.equal(flows.count, 1);
  assert.equal(flows.sum, 2, 'the two ICMP flows were read from the kernel (and then filtered)');
});
