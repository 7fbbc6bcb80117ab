import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { FlowRecord, TrafficClass } from '../../pipeline/flow.ts';
import { NO_DEADLINE } from '../../pipeline/lifecycle.ts';
import { configProblems, RecordingConsumer, testSettings } from '../../test/support/components.ts';
import { BUILT_IN_PRICES, costProcessorFactory } from './index.ts';
import { replayReceiverFactory } from '../../receivers/replay/index.ts';
import { flowlogExporterFactory } from '../../exporters/flowlog/index.ts';
import { crosszoneProcessorFactory } from '../../processors/crosszone/index.ts';
import { aggregateProcessorFactory } from '../../processors/aggregate/index.ts';
import { join } from 'node:path';

function processor(config: Record<string, unknown> = {}) {
  const next = new RecordingConsumer();
  const p = costProcessorFactory.create(testSettings('cost', 'processor'), costProcessorFactory.configSchema.parse(config), next);
  return { p, next };
}

function bad(input: unknown): string[] {
  const result = costProcessorFactory.configSchema.safeParse(input);
  assert.equal(result.success, false);
  return result.error!.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
}

const GB = 1e9;

function flow(trafficClass: TrafficClass | undefined, bytes: number, srcRegion?: string, dstRegion?: string): FlowRecord {
  const r: FlowRecord = {
    src: { address: '10.0.0.1', port: 1, ...(srcRegion ? { region: srcRegion } : {}) },
    dst: { address: '10.0.0.2', port: 2, ...(dstRegion ? { region: dstRegion } : {}) },
    transport: 'tcp',
    ipFamily: 'ipv4',
    bytes,
    packets: 1,
  };
  if (trafficClass) r.trafficClass = trafficClass;
  return r;
}

async function costs(config: Record<string, unknown>, records: FlowRecord[]): Promise<(number | undefined)[]> {
  const { p, next } = processor(config);
  await p.consume({ start: 0, end: 1, records });
  return next.records.map((r) => r.costUsd);
}

test('config: defaults', () => {
  const defaults = { provider: 'gcp', prices: {}, region_pairs: [] };
  assert.deepEqual(costProcessorFactory.configSchema.parse({}), defaults);
  assert.equal(processor().p.capabilities.mutatesData, true, 'changes batches in place: fan-out hands it a batch of its own');
});

test('config: bad values say what was wrong and where', () => {
  assert.deepEqual(bad({ provider: 'oracle' }), ['provider: unknown provider "oracle": expected gcp, aws, azure or custom']);
  assert.deepEqual(bad({ prices: { cross_zone: -0.01 } }), ['prices.cross_zone: a price cannot be negative']);
  assert.deepEqual(bad({ prices: { cross_zone: '0.01' } }), ['prices.cross_zone: expected a price in US dollars per GB, like 0.01']);
  assert.deepEqual(bad({ prices: { crosszone: 0.01 } }), ['prices: Unrecognized key: "crosszone"']);
  assert.deepEqual(bad({ provider: 'custom', prices: { cross_zone: 0.01 } }), [
    'prices.same_zone: provider "custom" needs a price for same_zone (USD per GB)',
    'prices.cross_region: provider "custom" needs a price for cross_region (USD per GB)',
    'prices.internet: provider "custom" needs a price for internet (USD per GB)',
  ]);
  assert.deepEqual(bad({ region_pairs: [{ from: 'us-east1', price: 0.05 }] }), ['region_pairs.0.to: expected a region name']);
  assert.deepEqual(
    bad({
      region_pairs: [
        { from: 'a', to: 'b', price: 0.05 },
        { from: 'a', to: 'b', price: 0.06 },
      ],
    }),
    ['region_pairs.1: region pair a -> b is listed twice'],
  );
  assert.deepEqual(bad({ currency: 'EUR' }), [': Unrecognized key: "currency"']);
});

test('lifecycle: create -> shutdown, and start -> shutdown twice', async () => {
  await processor().p.shutdown(NO_DEADLINE);
  const { p, next } = processor();
  await p.start(NO_DEADLINE);
  await p.consume({ start: 0, end: 1, records: [flow('cross_zone', GB)] });
  await p.shutdown(NO_DEADLINE);
  await p.shutdown(NO_DEADLINE);
  assert.equal(next.records[0]!.costUsd, 0.01);
});

test('built-in tables: one GB (10^9 bytes) of each class', async () => {
  const classes: TrafficClass[] = ['same_zone', 'cross_zone', 'cross_region', 'internet', 'unknown'];
  const records = () => classes.map((c) => flow(c, GB));
  assert.deepEqual(await costs({}, records()), [0, 0.01, 0.02, 0.12, 0]);
  assert.deepEqual(await costs({ provider: 'gcp' }, records()), [0, 0.01, 0.02, 0.12, 0]);
  // AWS bills cross-AZ bytes leaving one AZ and entering the other: 0.01 + 0.01, counted once at the source.
  assert.deepEqual(await costs({ provider: 'aws' }, records()), [0, 0.02, 0.02, 0.09, 0]);
  assert.deepEqual(await costs({ provider: 'azure' }, records()), [0, 0, 0.02, 0.087, 0]);
  assert.deepEqual(BUILT_IN_PRICES.gcp, { same_zone: 0, cross_zone: 0.01, cross_region: 0.02, internet: 0.12, unknown: 0 });
});

test('cost is bytes / 10^9 * price', async () => {
  assert.deepEqual(await costs({}, [flow('cross_zone', 18234), flow('internet', 2_500_000_000), flow('cross_zone', 0)]), [18234e-9 * 0.01, 2.5 * 0.12, 0]);
});

test('overrides replace single prices of a built-in table; custom takes them all', async () => {
  assert.deepEqual(await costs({ provider: 'aws', prices: { cross_zone: 0.01, unknown: 0.005 } }, [flow('cross_zone', GB), flow('internet', GB), flow('unknown', GB)]), [0.01, 0.09, 0.005]);
  const custom = { provider: 'custom', prices: { same_zone: 0.001, cross_zone: 0.03, cross_region: 0.04, internet: 0.2 } };
  assert.deepEqual(await costs(custom, [flow('same_zone', GB), flow('cross_zone', GB), flow('cross_region', GB), flow('internet', GB), flow('unknown', GB)]), [0.001, 0.03, 0.04, 0.2, 0]);
});

test('region pairs price cross_region flows by direction, the reverse when only one is listed', async () => {
  const config = {
    region_pairs: [
      { from: 'us-east1', to: 'europe-west1', price: 0.05 },
      { from: 'europe-west1', to: 'asia-east1', price: 0.08 },
      { from: 'asia-east1', to: 'europe-west1', price: 0.09 },
    ],
  };
  assert.deepEqual(
    await costs(config, [
      flow('cross_region', GB, 'us-east1', 'europe-west1'),
      flow('cross_region', GB, 'europe-west1', 'us-east1'),
      flow('cross_region', GB, 'europe-west1', 'asia-east1'),
      flow('cross_region', GB, 'asia-east1', 'europe-west1'),
      flow('cross_region', GB, 'us-east1', 'us-west1'),
      flow('cross_region', GB, undefined, 'europe-west1'),
      // A pair prices only cross_region flows.
      flow('internet', GB, 'us-east1', 'europe-west1'),
    ]),
    [0.05, 0.05, 0.08, 0.09, 0.02, 0.02, 0.12],
  );
});

test('records without a class cost 0', async () => {
  assert.deepEqual(await costs({}, [flow(undefined, GB)]), [0]);
});


/** The five factories of this area: enough for a full pipeline in the broken configs of testdata/. */
const FACTORIES = [replayReceiverFactory, flowlogExporterFactory, crosszoneProcessorFactory, aggregateProcessorFactory, costProcessorFactory];

test('broken configs in testdata/ are rejected through the config loader, with path and line:column', async () => {
  const env = { FLOWS: join(import.meta.dirname, '../../receivers/replay/testdata/flows.jsonl') };
  const file = (name: string) => join(import.meta.dirname, 'testdata', name);
  assert.deepEqual(await configProblems([file('bad-provider.yaml')], FACTORIES, env), [
    `${file('bad-provider.yaml')}:6:5: processors::cost::provider: unknown provider "oracle": expected gcp, aws, azure or custom`,
    `${file('bad-provider.yaml')}:8:7: processors::cost::prices::cross_zone: a price cannot be negative`,
    `${file('bad-provider.yaml')}:9:7: processors::cost::prices::crosszone: unknown key "crosszone"; did you mean "cross_zone"?`,
    `${file('bad-provider.yaml')}:11:9: processors::cost::region_pairs::0::to: missing required key (expected a region name)`,
  ]);
  assert.deepEqual(await configProblems([file('custom-missing-prices.yaml')], FACTORIES, env), [
    `${file('custom-missing-prices.yaml')}:7:5: processors::cost::prices::same_zone: provider "custom" needs a price for same_zone (USD per GB)`,
    `${file('custom-missing-prices.yaml')}:7:5: processors::cost::prices::cross_region: provider "custom" needs a price for cross_region (USD per GB)`,
    `${file('custom-missing-prices.yaml')}:7:5: processors::cost::prices::internet: provider "custom" needs a price for internet (USD per GB)`,
    `${file('custom-missing-prices.yaml')}:11:9: processors::cost::region_pairs::1: region pair us-east1 -> europe-west1 is listed twice`,
  ]);
});
