/**
 * Bills worked from each provider's public price page (processors/cost/README.md,
 * "Worked bills", cites every figure): the flows a month of traffic makes, as
 * k8sattributes names them, through the real crosszone and cost processors,
 * against the invoice lines the page's prices give. Every expected dollar figure
 * below is written out by hand from the page, not computed by zonetap's code.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { FlowEndpoint, FlowRecord } from '../../pipeline/flow.ts';
import { RecordingConsumer, testSettings } from '../../test/support/components.ts';
import { crosszoneProcessorFactory } from '../crosszone/index.ts';
import { costProcessorFactory } from './index.ts';

const GB = 1e9;
const GiB = 2 ** 30;

/** A pod in a zone of a region, as k8sattributes names it. */
const pod = (address: string, zone: string, region: string, workload: string): FlowEndpoint => ({ address, port: 0, namespace: 'shop', workloadKind: 'Deployment', workloadName: workload, zone, region });
/** An address nobody claims (the internet, when it is public). */
const outside = (address: string): FlowEndpoint => ({ address, port: 443 });

const flow = (src: FlowEndpoint, dst: FlowEndpoint, bytes: number): FlowRecord => ({ src, dst, transport: 'tcp', ipFamily: 'ipv4', bytes, packets: 1 });

/** The records after crosszone and cost (config `cost`), in order. */
async function priced(cost: Record<string, unknown>, records: FlowRecord[]): Promise<FlowRecord[]> {
  const out = new RecordingConsumer();
  const costs = costProcessorFactory.create(testSettings('cost', 'processor'), costProcessorFactory.configSchema.parse(cost), out);
  const crosszone = crosszoneProcessorFactory.create(testSettings('crosszone', 'processor'), crosszoneProcessorFactory.configSchema.parse({}), costs);
  await crosszone.consume({ start: 0, end: 1, records });
  return out.records;
}

/** Dollars to the cent, as an invoice shows them (`digits` more for sub-cent examples). */
const cents = (usd: number, digits = 2) => Math.round(usd * 10 ** digits) / 10 ** digits;
const total = (records: readonly FlowRecord[]) => records.reduce((sum, r) => sum + r.costUsd!, 0);

test('gcp: cross-zone egress per GiB, Premium Tier internet tiers, Cloud NAT processing', async () => {
  const api = pod('10.1.0.5', 'us-central1-a', 'us-central1', 'api');
  const db = pod('10.2.0.7', 'us-central1-b', 'us-central1', 'db');
  // VM-to-VM between zones of a region: $0.01 per GiB, at the sender (ingress is free).
  // 100 GiB of queries and 400 GiB of results: 100 x 0.01 + 400 x 0.01 = $5.00.
  const zones = await priced({ provider: 'gcp' }, [flow(api, db, 100 * GiB), flow(db, api, 400 * GiB)]);
  assert.deepEqual(zones.map((r) => [r.trafficClass, r.costUsd]), [['cross_zone', 1], ['cross_zone', 4]]);
  // The same 500 GiB counted in GB (536.87 GB) would have been billed $5.37: GiB it is.
  assert.equal(cents(total(zones)), 5);

  // Premium Tier internet to North America, a month of 5 TiB (5,120 GiB) from the billing account:
  // first GiB free, 1,023 GiB x $0.12 = $122.76, 4,096 GiB x $0.11 = $450.56: $573.32.
  const month = await priced({ provider: 'gcp', internet_monthly_volume: '5 TiB' }, [flow(api, outside('203.0.113.9'), 3072 * GiB), flow(db, outside('198.51.100.7'), 2048 * GiB)]);
  assert.deepEqual(month.map((r) => r.trafficClass), ['internet', 'internet']);
  assert.equal(cents(total(month)), 573.32);
  // Without a volume every GiB costs the first paid band: 5,120 x $0.12 = $614.40, what one more GiB costs a small account.
  assert.equal(cents(total(await priced({ provider: 'gcp' }, [flow(api, outside('203.0.113.9'), 5120 * GiB)]))), 614.4);

  // Cloud NAT's own example processes 100 GiB: 100 x $0.045 = $4.50 of its $18.61 (the rest is per VM-hour).
  // 100 GiB out through Cloud NAT: $4.50 processing + 100 x $0.12 egress = $16.50.
  const nat = await priced({ provider: 'gcp', nat_gateway: true }, [flow(api, outside('203.0.113.9'), 100 * GiB), flow(api, db, 100 * GiB)]);
  assert.deepEqual(nat.map((r) => cents(r.costUsd!)), [16.5, 1], 'pod-to-pod traffic never passes Cloud NAT');
});

test('aws: cross-AZ both sides at the source, internet tiers after the free 100 GB, NAT gateway processing', async () => {
  const client = pod('10.0.1.5', 'us-east-1a', 'us-east-1', 'web');
  const server = pod('10.0.2.9', 'us-east-1b', 'us-east-1', 'search');
  // A 1 GB request from us-east-1a to us-east-1b and its 10 GB answer. AWS bills every byte
  // $0.01 out of one AZ and $0.01 into the other (two DataTransfer-Regional-Bytes lines):
  // (1 + 10) GB x 0.01 out + (1 + 10) GB x 0.01 in = $0.22.
  const pair = await priced({ provider: 'aws' }, [flow(client, server, 1 * GB), flow(server, client, 10 * GB)]);
  assert.deepEqual(pair.map((r) => [r.trafficClass, r.costUsd]), [['cross_zone', 0.02], ['cross_zone', 0.2]], 'both halves of each flow, at its source');
  assert.equal(cents(total(pair)), 0.22);
  // Per side, as two accounts would be billed: the client's half of its own flow and of the answer it receives.
  const side = (name: string) => pair.reduce((sum, r) => sum + (r.src.workloadName === name ? r.costUsd! / 2 : 0) + (r.dst.workloadName === name ? r.costUsd! / 2 : 0), 0);
  assert.deepEqual([cents(side('web')), cents(side('search'))], [0.11, 0.11]);

  // A real invoice (AWS re:Post): 107.330 GB out in a month; 100 GB under the global free
  // tier, 7.330 GB x $0.090 "first 10 TB / month data transfer out beyond the global free tier" = $0.66.
  const small = await priced({ provider: 'aws', internet_monthly_volume: '107.33 GB' }, [flow(client, outside('203.0.113.9'), 107.33 * GB)]);
  assert.equal(cents(total(small)), 0.66);
  // A month of 20,000 GB: 100 GB free, 10,240 GB x $0.09 = $921.60, 9,660 GB x $0.085 = $821.10: $1,742.70.
  const large = await priced({ provider: 'aws', internet_monthly_volume: '20000 GB' }, [flow(client, outside('203.0.113.9'), 12_000 * GB), flow(server, outside('198.51.100.7'), 8_000 * GB)]);
  assert.equal(cents(total(large)), 1742.7);
  // Each agent prices its share at the same average: the two flows sum to the invoice whichever agent saw which.
  assert.equal(cents(large[0]!.costUsd! + large[1]!.costUsd!), 1742.7);

  // NAT gateway, 1 GB to the internet: $0.045 processing + $0.09 data transfer out = $0.135.
  // AWS's own example: 1 GB through the NAT gateway to S3 in the same region costs $0.045
  // processing and no data transfer. Named as an S3 block of us-east-1 (region, no zone; AWS's
  // ip-ranges.json through k8sattributes' external_ranges), the flow's class is same_region
  // (free) and only the processing is charged.
  const s3 = { ...outside('52.216.8.1'), region: 'us-east-1' };
  const nat = await priced({ provider: 'aws', nat_gateway: true }, [flow(client, outside('203.0.113.9'), GB), flow(client, s3, GB), flow(client, server, GB)]);
  assert.deepEqual(nat.map((r) => [r.trafficClass, cents(r.costUsd!, 4)]), [['internet', 0.135], ['same_region', 0.045], ['cross_zone', 0.02]]);
});

test('azure: free across zones, internet tiers after the free 100 GB, NAT Gateway processing', async () => {
  const web = pod('10.4.0.5', 'eastus-1', 'eastus', 'web');
  const cache = pod('10.4.1.5', 'eastus-2', 'eastus', 'cache');
  const replica = pod('10.5.0.5', 'westus2-1', 'westus2', 'replica');
  // Between availability zones: no charge. Between regions in North America: $0.02/GB.
  // 1,000 GB each way: $0 + 1,000 x 0.02 = $20.00.
  const inside = await priced({ provider: 'azure' }, [flow(web, cache, 1000 * GB), flow(web, replica, 1000 * GB)]);
  assert.deepEqual(inside.map((r) => [r.trafficClass, r.costUsd]), [['cross_zone', 0], ['cross_region', 20]]);
  // Internet over the Microsoft premium global network, a month of 5,000 GB:
  // 100 GB free, 4,900 GB x $0.087 = $426.30.
  const month = await priced({ provider: 'azure', internet_monthly_volume: '5000 GB' }, [flow(web, outside('203.0.113.9'), 5000 * GB)]);
  assert.equal(cents(total(month)), 426.3);
  // 1,000 GB out through a NAT Gateway: 1,000 x $0.045 processed + 1,000 x $0.087 out = $132.00.
  const nat = await priced({ provider: 'azure', nat_gateway: true }, [flow(web, outside('203.0.113.9'), 1000 * GB)]);
  assert.equal(cents(total(nat)), 132);
});
