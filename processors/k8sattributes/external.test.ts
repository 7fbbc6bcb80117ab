/**
 * Named external endpoints with the Kubernetes source: the `external` list
 * and the three providers' range files (testdata/ holds a few entries of each
 * in its real format), resolved by k8sattributes against the fake API server
 * and classified by crosszone.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeKubeApiServer, makeNode, makePod } from '../../test/kube-api/index.ts';
import { configProblems } from '../../test/support/components.ts';
import { harness, type Harness } from '../../test/support/k8sattributes.ts';
import { classifyBatches } from '../crosszone/index.ts';
import { replayReceiverFactory } from '../../receivers/replay/index.ts';
import { flowlogExporterFactory } from '../../exporters/flowlog/index.ts';
import { ExternalBlocks } from './external-ranges.ts';
import { k8sattributesProcessorFactory } from './factory.ts';

const testdata = join(import.meta.dirname, 'testdata');
const AWS = join(testdata, 'aws-ip-ranges.json');
const GCP = join(testdata, 'gcp-cloud.json');
const AZURE = join(testdata, 'azure-service-tags.json');

/** What an address resolves to, as [name, region, kind]; undefined when no block has it. */
function named(blocks: ExternalBlocks, address: string): [string, string | undefined, string | undefined] | undefined {
  const e = blocks.lookup(address);
  return e && [e.name, e.region, e.externalKind];
}

test('AWS ip-ranges.json: each prefix named by its service and region; a named service beats AMAZON, GLOBAL has no region', () => {
  const blocks = new ExternalBlocks([], [{ provider: 'aws', path: AWS }]);
  assert.equal(blocks.size, 6, '52.216.0.0/15 is listed twice (AMAZON and S3): one block');
  assert.deepEqual(named(blocks, '52.217.10.1'), ['aws:S3', 'us-east-1', 'cloud_provider']);
  assert.deepEqual(named(blocks, '3.5.70.9'), ['aws:S3', 'eu-west-1', 'cloud_provider']);
  assert.deepEqual(named(blocks, '3.81.2.3'), ['aws:EC2', 'us-east-1', 'cloud_provider']);
  assert.deepEqual(named(blocks, '13.33.0.1'), ['aws:CLOUDFRONT', undefined, 'cloud_provider']);
  assert.deepEqual(named(blocks, '2600:1fa0:8001::5'), ['aws:S3', 'us-east-1', 'cloud_provider']);
  assert.deepEqual(named(blocks, '2a05:d050:8000::1'), ['aws:AMAZON', 'eu-west-1', 'cloud_provider']);
  assert.equal(named(blocks, '8.8.8.8'), undefined);
});

test('GCP cloud.json: scope is the region, "global" has none; IPv4 and IPv6 prefixes', () => {
  const blocks = new ExternalBlocks([], [{ provider: 'gcp', path: GCP }]);
  assert.equal(blocks.size, 4);
  assert.deepEqual(named(blocks, '34.16.5.5'), ['gcp:Google Cloud', 'us-central1', 'cloud_provider']);
  assert.deepEqual(named(blocks, '34.32.0.9'), ['gcp:Google Cloud', 'europe-west4', 'cloud_provider']);
  assert.deepEqual(named(blocks, '34.54.1.1'), ['gcp:Google Cloud', undefined, 'cloud_provider']);
  assert.deepEqual(named(blocks, '2600:1900:4000::1'), ['gcp:Google Cloud', 'us-central1', 'cloud_provider']);
});

test('Azure Service Tags: a tag with a service and a region beats the broader tags listing the same prefix', () => {
  const blocks = new ExternalBlocks([], [{ provider: 'azure', path: AZURE }]);
  // 13.69.0.0/17, 20.38.96.0/19, 13.69.40.16/28, 2603:1020:206::/48
  assert.equal(blocks.size, 4);
  assert.deepEqual(named(blocks, '13.69.40.20'), ['azure:AzureStorage', 'westeurope', 'cloud_provider'], 'the /28 of Storage.WestEurope inside AzureCloud.westeurope');
  assert.deepEqual(named(blocks, '13.69.1.1'), ['azure:AzureCloud', 'westeurope', 'cloud_provider'], 'AzureCloud.westeurope beats the regionless AzureCloud');
  assert.deepEqual(named(blocks, '20.38.100.1'), ['azure:AzureStorage', undefined, 'cloud_provider'], 'a service beats AzureCloud, neither has a region');
  assert.deepEqual(named(blocks, '2603:1020:206::9'), ['azure:AzureStorage', 'westeurope', 'cloud_provider']);
});

test('the config\'s own blocks beat a provider\'s for the same prefix, and the longest prefix wins', () => {
  const blocks = new ExternalBlocks(
    [
      { name: 'orders-db', cidrs: [cidr('10.50.0.0/24')], zone: 'us-east-1b', region: 'us-east-1', kind: 'managed_service' },
      { name: 'partner-vpc', cidrs: [cidr('52.216.0.0/15')], zone: undefined, region: 'us-east-1', kind: 'peered_vpc' },
      { name: 'datacenter', cidrs: [cidr('10.0.0.0/8')], zone: undefined, region: undefined, kind: 'on_prem' },
    ],
    [{ provider: 'aws', path: AWS }],
  );
  assert.deepEqual(named(blocks, '52.216.1.1'), ['partner-vpc', 'us-east-1', 'peered_vpc']);
  assert.deepEqual(named(blocks, '10.50.0.7'), ['orders-db', 'us-east-1', 'managed_service']);
  assert.deepEqual(named(blocks, '10.9.9.9'), ['datacenter', undefined, 'on_prem']);
});

function cidr(text: string) {
  return k8sattributesProcessorFactory.configSchema.parse({ external: [{ name: 'x', cidrs: [text] }] }).external![0]!.cidrs[0]!;
}

let server: FakeKubeApiServer;
let dir: string;
let h: Harness;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'zt-external-'));
  server = new FakeKubeApiServer();
  await server.start();
  const kubeconfig = server.writeKubeconfig(join(dir, 'kubeconfig'));
  server.store.create('nodes', makeNode({ name: 'node-a', zone: 'us-east-1a', region: 'us-east-1', internalIPs: ['192.168.60.1'] }));
  server.store.create('pods', makePod({ namespace: 'shop', name: 'api-0', node: 'node-a', ips: ['10.1.0.5'], owner: { kind: 'StatefulSet', name: 'api' } }));
  h = harness({
    kubeconfig,
    sync_timeout: '10s',
    max_held_records: 0,
    external: [{ name: 'orders-db', cidrs: ['10.50.0.0/24'], zone: 'us-east-1b', region: 'us-east-1', kind: 'managed_service' }],
    external_ranges: [
      { provider: 'aws', path: AWS },
      { provider: 'gcp', path: GCP },
      { provider: 'azure', path: AZURE },
    ],
  });
  await h.processor.start();
});

after(async () => {
  await h?.processor.shutdown();
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('source kubernetes: flows to named blocks carry their name, zone and region, and crosszone classes them by region', async () => {
  const records = await h.run(['10.1.0.5', '52.216.8.1'], ['10.1.0.5', '3.5.64.10'], ['10.1.0.5', '10.50.0.9'], ['10.1.0.5', '34.32.0.1'], ['10.1.0.5', '203.0.113.9'], ['10.1.0.5', '13.32.1.1']);
  classifyBatches({ keep: undefined })({ start: 0, end: 1, records });
  assert.deepEqual(
    records.map((r) => [r.dst.address, r.dst.workloadKind, r.dst.workloadName, r.dst.zone, r.dst.region, r.trafficClass]),
    [
      ['52.216.8.1', 'External', 'aws:S3', undefined, 'us-east-1', 'same_region'],
      ['3.5.64.10', 'External', 'aws:S3', undefined, 'eu-west-1', 'cross_region'],
      ['10.50.0.9', 'External', 'orders-db', 'us-east-1b', 'us-east-1', 'cross_zone'],
      ['34.32.0.1', 'External', 'gcp:Google Cloud', undefined, 'europe-west4', 'cross_region'],
      ['203.0.113.9', undefined, undefined, undefined, undefined, 'internet'],
      // CloudFront is GLOBAL: named, but no region to compare: unknown, not internet.
      ['13.32.1.1', 'External', 'aws:CLOUDFRONT', undefined, undefined, 'unknown'],
    ],
  );
  assert.ok(h.logs.some((l) => l.includes('external blocks loaded') && l.includes('"prefixes":15')), h.logs.join('\n'));
});

test('broken external options and range files are rejected with path and line:column', async () => {
  const file = join(testdata, 'bad-external.yaml');
  const flows = join(dir, 'flows.jsonl');
  writeFileSync(flows, '');
  const bad = join(testdata, 'bad-aws-ip-ranges.json');
  assert.deepEqual(await configProblems([file], [replayReceiverFactory, k8sattributesProcessorFactory, flowlogExporterFactory], { FLOWS: flows, TESTDATA: testdata }), [
    `${file}:9:17: processors::k8sattributes::external::0::cidrs::0: invalid CIDR "10.50.0.0/33": expected address/prefix, like 10.0.0.0/8 or fd00::/8`,
    `${file}:10:9: processors::k8sattributes::external::0::kind: unknown kind "database": expected one of managed_service, peered_vpc, on_prem, cloud_provider, other`,
    `${file}:12:9: processors::k8sattributes::external_ranges::0::provider: unknown provider "oracle": expected aws (ip-ranges.json), gcp (cloud.json) or azure (Service Tags JSON)`,
    `${file}:15:9: processors::k8sattributes::external_ranges::1::path: ${bad}: prefixes[1].ip_prefix: invalid CIDR "52.216.0.0/33"`,
    `${file}:17:9: processors::k8sattributes::external_ranges::2::path: ${AWS}: prefixes[0]: expected ipv4Prefix or ipv6Prefix, as in GCP's cloud.json`,
  ]);
});
