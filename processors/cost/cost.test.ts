/** The cost processor's config, lifecycle and pricing rules. Bills worked from the providers' pages: bills.test.ts. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { FlowRecord, TrafficClass } from '../../pipeline/flow.ts';
import { NO_DEADLINE } from '../../pipeline/lifecycle.ts';
import { configProblems, RecordingConsumer, testSettings } from '../../test/support/components.ts';
import { costProcessorFactory, parseVolume, resolvePrices } from './index.ts';
import { replayReceiverFactory } from '../../receivers/replay/index.ts';
import { flowlogExporterFactory } from '../../exporters/flowlog/index.ts';
import { crosszoneProcessorFactory } from '../../processors/crosszone/index.ts';
import { aggregateProcessorFactory } from '../../processors/aggregate/index.ts';

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
const GiB = 2 ** 30;

function flow(trafficClass: TrafficClass | undefined, bytes: number, ends: { src?: string; dst?: string; srcRegion?: string; dstRegion?: string } = {}): FlowRecord {
  const r: FlowRecord = {
    src: { address: ends.src ?? '10.0.0.1', port: 1, ...(ends.srcRegion ? { region: ends.srcRegion } : {}) },
    dst: { address: ends.dst ?? '10.0.0.2', port: 2, ...(ends.dstRegion ? { region: ends.dstRegion } : {}) },
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

const CLASSES: TrafficClass[] = ['same_zone', 'same_region', 'cross_zone', 'cross_region', 'internet', 'unknown'];
const oneUnitOfEach = (unit: number) => CLASSES.map((c) => flow(c, unit, c === 'internet' ? { dst: '203.0.113.9' } : {}));

test('config: defaults', () => {
  const defaults = { provider: 'gcp', prices: {}, region_pairs: [], nat_gateway: false };
  assert.deepEqual(costProcessorFactory.configSchema.parse({}), defaults);
  assert.equal(processor().p.capabilities.mutatesData, true, 'changes batches in place: fan-out hands it a batch of its own');
});

test('config: volumes are a number and its unit, in bytes', () => {
  assert.equal(parseVolume('50 TB'), 50e12);
  assert.equal(parseVolume('20TiB'), 20 * 2 ** 40);
  assert.equal(parseVolume('107.33 GB'), 107.33e9);
  assert.equal(parseVolume('1 GiB'), GiB);
  assert.equal(parseVolume('50'), undefined, 'a bare number would mean GB to one provider and GiB to another');
  assert.equal(parseVolume('5 PB'), undefined);
  assert.equal(costProcessorFactory.configSchema.parse({ internet_monthly_volume: '5 TiB' }).internet_monthly_volume, 5 * 2 ** 40);
});

test('config: bad values say what was wrong and where', () => {
  assert.deepEqual(bad({ provider: 'oracle' }), ['provider: unknown provider "oracle": expected gcp, aws, azure or custom']);
  assert.deepEqual(bad({ prices: { cross_zone: -0.01 } }), ['prices.cross_zone: a price cannot be negative']);
  assert.deepEqual(bad({ prices: { cross_zone: '0.01' } }), ['prices.cross_zone: expected a price in US dollars per GB or GiB (the unit of the price table), like 0.01']);
  assert.deepEqual(bad({ prices: { crosszone: 0.01 } }), ['prices: Unrecognized key: "crosszone"']);
  assert.deepEqual(bad({ provider: 'custom', prices: { cross_zone: 0.01 } }), [
    'prices.same_zone: provider "custom" needs a price for same_zone (USD per GB)',
    'prices.cross_region: provider "custom" needs a price for cross_region (USD per GB)',
    'prices.internet: provider "custom" needs a price for internet (USD per GB), or internet_tiers',
  ]);
  assert.deepEqual(bad({ provider: 'custom', unit: 'GiB', prices: { same_zone: 0, cross_zone: 0.01, cross_region: 0.02, internet: 0.1 }, nat_gateway: true }), [
    'prices.nat_gateway: provider "custom" with nat_gateway: true needs prices.nat_gateway (USD per GiB processed)',
  ]);
  assert.deepEqual(bad({ provider: 'custom', prices: { same_zone: 0, cross_zone: 0.01, cross_region: 0.02, internet: 0.1 }, internet_monthly_volume: '1 TB' }), [
    'internet_monthly_volume: internet_monthly_volume picks the average price of the internet tiers, and prices.internet replaces the tiers with one price: give one of the two',
  ]);
  assert.deepEqual(bad({ provider: 'custom', prices: { same_zone: 0, cross_zone: 0.01, cross_region: 0.02 }, internet_tiers: [{ price: 0.1 }], unit: 'GB', internet_monthly_volume: 'lots' }), [
    'internet_monthly_volume: invalid volume "lots": expected a number with its unit, like 50 TB or 20 TiB (GB, TB, GiB or TiB)',
  ]);
  assert.deepEqual(bad({ provider: 'aws', unit: 'GiB' }), ['unit: the aws table is per GB, as aws bills (its prices and yours are per GB): unit is for provider "custom" only']);
  assert.deepEqual(bad({ internet_tiers: [] }), ['internet_tiers: expected at least one tier, the last without up_to']);
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
  await p.consume({ start: 0, end: 1, records: [flow('cross_zone', GiB)] });
  await p.shutdown(NO_DEADLINE);
  await p.shutdown(NO_DEADLINE);
  assert.equal(next.records[0]!.costUsd, 0.01);
});

test('built-in tables: one billing unit of each class, each provider in its own unit', async () => {
  // Google bills per GiB (2^30 bytes), AWS and Azure per GB (10^9 bytes). Internet: the first paid band.
  assert.deepEqual(await costs({}, oneUnitOfEach(GiB)), [0, 0, 0.01, 0.02, 0.12, 0]);
  assert.deepEqual(await costs({ provider: 'gcp' }, oneUnitOfEach(GiB)), [0, 0, 0.01, 0.02, 0.12, 0]);
  // AWS bills cross-AZ bytes leaving one AZ and entering the other: 0.01 + 0.01, counted once at the source.
  assert.deepEqual(await costs({ provider: 'aws' }, oneUnitOfEach(GB)), [0, 0, 0.02, 0.02, 0.09, 0]);
  assert.deepEqual(await costs({ provider: 'azure' }, oneUnitOfEach(GB)), [0, 0, 0, 0.02, 0.087, 0]);
  assert.deepEqual(resolvePrices(costProcessorFactory.configSchema.parse({ provider: 'gcp' })), {
    unit: 'GiB',
    bytesPerUnit: 1_073_741_824,
    classes: { same_zone: 0, same_region: 0, cross_zone: 0.01, cross_region: 0.02, internet: 0.12, unknown: 0 },
    natGateway: 0,
  });
});

test('cost is bytes / bytes per unit * price: GiB on gcp, GB on aws', async () => {
  assert.deepEqual(await costs({}, [flow('cross_zone', 18234), flow('internet', 2_500_000_000, { dst: '198.51.100.7' }), flow('cross_zone', 0)]), [(18234 / GiB) * 0.01, (2.5e9 / GiB) * 0.12, 0]);
  // 10^9 bytes are 0.93 GiB: gcp prices them 7 % under a GB, as Google's invoice does.
  assert.deepEqual(await costs({}, [flow('cross_zone', GB)]), [0.009313225746154785]);
  assert.deepEqual(await costs({ provider: 'aws' }, [flow('cross_zone', 18234)]), [(18234 / GB) * 0.02]);
});

test('overrides replace single prices of a built-in table, in its unit; custom takes them all, per GB or GiB', async () => {
  assert.deepEqual(await costs({ provider: 'aws', prices: { cross_zone: 0.01, unknown: 0.005 } }, [flow('cross_zone', GB), flow('internet', GB, { dst: '203.0.113.9' }), flow('unknown', GB)]), [0.01, 0.09, 0.005]);
  assert.deepEqual(await costs({ provider: 'gcp', prices: { internet: 0.085 } }, [flow('internet', GiB, { dst: '203.0.113.9' })]), [0.085]);
  const custom = { provider: 'custom', prices: { same_zone: 0.001, cross_zone: 0.03, cross_region: 0.04, internet: 0.2 } };
  assert.deepEqual(await costs(custom, oneUnitOfEach(GB)), [0.001, 0, 0.03, 0.04, 0.2, 0]);
  assert.deepEqual(await costs({ ...custom, unit: 'GiB' }, oneUnitOfEach(GiB)), [0.001, 0, 0.03, 0.04, 0.2, 0]);
});

test('nat_gateway adds processing to flows from a private to a public address, whatever their class', async () => {
  const records = () => [
    flow('internet', GB, { dst: '203.0.113.9' }),
    // A public endpoint that k8sattributes named (S3 in the sender's region, from AWS's range file): the NAT gateway still carries it.
    flow('same_region', GB, { dst: '52.216.8.1' }),
    flow('cross_region', GB, { dst: '34.117.59.81', srcRegion: 'us-east-1', dstRegion: 'eu-west-1' }),
    // Private destinations never pass a NAT gateway; nor does a sender with a public address of its own.
    flow('cross_zone', GB),
    flow('unknown', GB, { dst: '10.9.0.1' }),
    flow('internet', GB, { src: '198.51.100.2', dst: '203.0.113.9' }),
    flow('internet', GB, { src: '::ffff:10.0.0.1', dst: '2001:4860:4860::8888' }),
    // Overflow: addresses unknown.
    flow('unknown', GB, { src: '', dst: '' }),
  ];
  assert.deepEqual(await costs({ provider: 'aws' }, records()), [0.09, 0, 0.02, 0.02, 0, 0.09, 0.09, 0]);
  assert.deepEqual(await costs({ provider: 'aws', nat_gateway: true }, records()), [0.09 + 0.045, 0.045, 0.02 + 0.045, 0.02, 0, 0.09, 0.09 + 0.045, 0]);
  assert.deepEqual(await costs({ provider: 'aws', nat_gateway: true, prices: { nat_gateway: 0.052 } }, records().slice(0, 1)), [0.09 + 0.052]);
  assert.deepEqual(await costs({ provider: 'custom', prices: { same_zone: 0, cross_zone: 0, cross_region: 0, internet: 0.05, nat_gateway: 0.01 }, nat_gateway: true }, records().slice(0, 1)), [0.05 + 0.01]);
});

test('internet tiers: the first paid band without a volume, the month\'s average price with one', async () => {
  const internet = (bytes: number) => [flow('internet', bytes, { dst: '203.0.113.9' })];
  // A custom tier list, checked by hand: 10 GB free, 0.10 up to 110 GB, 0.05 beyond.
  const custom = { provider: 'custom', prices: { same_zone: 0, cross_zone: 0, cross_region: 0 }, internet_tiers: [{ up_to: '10 GB', price: 0 }, { up_to: '110 GB', price: 0.1 }, { price: 0.05 }] };
  assert.deepEqual(await costs(custom, internet(GB)), [0.1], 'no volume: the first band that costs anything');
  // A month of 210 GB: 0 + 100 * 0.10 + 100 * 0.05 = $15, so 210 GB of flows cost $15 in all.
  assert.deepEqual(await costs({ ...custom, internet_monthly_volume: '210 GB' }, internet(210 * GB)), [15]);
  assert.deepEqual(await costs({ ...custom, internet_monthly_volume: '210 GB' }, internet(GB)), [15 / 210]);
  // A month within the free allowance costs nothing.
  assert.deepEqual(await costs({ ...custom, internet_monthly_volume: '8 GB' }, internet(8 * GB)), [0]);
  // Tiers given in GiB for a GiB table.
  assert.deepEqual(await costs({ ...custom, unit: 'GiB', internet_tiers: [{ up_to: '1 GiB', price: 0 }, { price: 0.2 }], internet_monthly_volume: '2 GiB' }, internet(2 * GiB)), [0.2]);
  // Tiers replace a built-in table's.
  assert.deepEqual(await costs({ provider: 'aws', internet_tiers: [{ price: 0.114 }] }, internet(GB)), [0.114]);
});

test('region pairs price cross_region flows by direction, the reverse when only one is listed', async () => {
  const config = {
    region_pairs: [
      { from: 'us-east1', to: 'europe-west1', price: 0.05 },
      { from: 'europe-west1', to: 'asia-east1', price: 0.08 },
      { from: 'asia-east1', to: 'europe-west1', price: 0.09 },
    ],
  };
  const pair = (cls: TrafficClass, srcRegion?: string, dstRegion?: string) => flow(cls, GiB, { ...(srcRegion ? { srcRegion } : {}), ...(dstRegion ? { dstRegion } : {}), ...(cls === 'internet' ? { dst: '203.0.113.9' } : {}) });
  assert.deepEqual(
    await costs(config, [
      pair('cross_region', 'us-east1', 'europe-west1'),
      pair('cross_region', 'europe-west1', 'us-east1'),
      pair('cross_region', 'europe-west1', 'asia-east1'),
      pair('cross_region', 'asia-east1', 'europe-west1'),
      pair('cross_region', 'us-east1', 'us-west1'),
      pair('cross_region', undefined, 'europe-west1'),
      // A pair prices only cross_region flows.
      pair('internet', 'us-east1', 'europe-west1'),
    ]),
    [0.05, 0.05, 0.08, 0.09, 0.02, 0.02, 0.12],
  );
});

test('records without a class cost 0, NAT gateway or not', async () => {
  assert.deepEqual(await costs({ nat_gateway: true }, [flow(undefined, GB, { dst: '203.0.113.9' })]), [0]);
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
    `${file('custom-missing-prices.yaml')}:7:5: processors::cost::prices::internet: provider "custom" needs a price for internet (USD per GB), or internet_tiers`,
    `${file('custom-missing-prices.yaml')}:11:9: processors::cost::region_pairs::1: region pair us-east1 -> europe-west1 is listed twice`,
  ]);
  assert.deepEqual(await configProblems([file('bad-volumes.yaml')], FACTORIES, env), [
    `${file('bad-volumes.yaml')}:7:5: processors::cost::unit: unknown unit "MB": expected GB (10^9 bytes) or GiB (2^30 bytes)`,
    `${file('bad-volumes.yaml')}:8:5: processors::cost::nat_gateway: expected true or false, got string "yes please"`,
    `${file('bad-volumes.yaml')}:10:5: processors::cost::internet_monthly_volume: expected a volume with its unit, like 50 TB or 20 TiB (GB, TB, GiB or TiB), got number 50`,
    `${file('bad-volumes.yaml')}:12:11: processors::cost::internet_tiers::0::up_to: volume "0 GB" must be more than 0`,
    `${file('bad-volumes.yaml')}:13:11: processors::cost::internet_tiers::1::up_to: invalid volume "20 PB": expected a number with its unit, like 50 TB or 20 TiB (GB, TB, GiB or TiB)`,
  ]);
  assert.deepEqual(await configProblems([file('bad-tiers.yaml')], FACTORIES, env), [
    `${file('bad-tiers.yaml')}:7:5: processors::cost::unit: the gcp table is per GiB, as gcp bills (its prices and yours are per GiB): unit is for provider "custom" only`,
    `${file('bad-tiers.yaml')}:12:11: processors::cost::internet_tiers::1::up_to: up_to must be more than the up_to of the tier before it (tiers count from the first byte of the month)`,
    `${file('bad-tiers.yaml')}:13:9: processors::cost::internet_tiers::2: only the last tier may leave out up_to`,
    `${file('bad-tiers.yaml')}:14:11: processors::cost::internet_tiers::3::up_to: the last tier has no up_to: it prices everything above the tier before it`,
  ]);
  assert.deepEqual(await configProblems([file('conflicting-prices.yaml')], FACTORIES, env), [
    `${file('conflicting-prices.yaml')}:9:7: processors::cost::prices::nat_gateway: prices.nat_gateway is used only with nat_gateway: true`,
    `${file('conflicting-prices.yaml')}:10:5: processors::cost::internet_monthly_volume: internet_monthly_volume picks the average price of the internet tiers, and prices.internet replaces the tiers with one price: give one of the two`,
    `${file('conflicting-prices.yaml')}:11:5: processors::cost::internet_tiers: give either prices.internet (one price for every byte) or internet_tiers, not both`,
  ]);
});
