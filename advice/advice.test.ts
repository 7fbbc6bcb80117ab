/**
 * The advice rules on flow fixtures: one conversation per rule, the server
 * found by Service, port and kind, dollars and evidence; and the recorded
 * demo (config/quickstart-flows.jsonl), whose two culprits must come out with
 * the right remedy each.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { FlowEndpoint, FlowRecord, TrafficClass } from '../pipeline/flow.ts';
import { addTraffic, emptyTotals, sampleOf, topPairs } from '../exporters/console/index.ts';
import { advise, observedFromLabels, observedFromRecords, renderAdviceHtml, renderAdviceText, MAX_EVIDENCE, type AdviceItem } from './index.ts';
import { observedFromFlowLog } from '../exporters/flowlog/index.ts';

/** USD per second that is exactly $1 a month (730 h). */
const DOLLAR_A_MONTH = 1 / (730 * 3600);

function end(namespace: string, kind: string, workload: string, pod: string, zone: string, port = 0, region = 'r1'): FlowEndpoint {
  return { address: '10.0.0.1', port, namespace, pod, workloadKind: kind, workloadName: workload, zone, region };
}

/** A record costing `dollars` a month over a 1 s log. */
function rec(src: FlowEndpoint, dst: FlowEndpoint, dollars: number, cls?: TrafficClass): FlowRecord {
  const trafficClass = cls ?? (src.zone === dst.zone ? 'same_zone' : 'cross_zone');
  return { src, dst, transport: 'tcp', ipFamily: 'ipv4', bytes: 1000 * (dollars + 1), packets: 1, trafficClass, costUsd: dollars * DOLLAR_A_MONTH };
}

const only = (records: FlowRecord[]): AdviceItem => {
  const { items } = advise(observedFromRecords(records, 1));
  assert.equal(items.length, 1, JSON.stringify(items, null, 1));
  return items[0]!;
};
const rounded = (usd: number) => Math.round(usd * 100) / 100;

test('a StatefulSet primary read from every zone: read replicas per zone, dollars of both directions', () => {
  const db = (port: number) => end('shop', 'StatefulSet', 'postgres', 'postgres-0', 'a', port);
  const api = (zone: string) => end('shop', 'Deployment', 'api', `api-${zone}`, zone, 40000 + zone.charCodeAt(0));
  const item = only([rec(db(5432), api('b'), 6), rec(api('b'), db(5432), 1), rec(db(5432), api('c'), 2), rec(db(5432), api('a'), 0)]);
  assert.equal(item.rule, 'zone-local-reads');
  assert.equal(item.server, 'shop/postgres');
  assert.deepEqual(item.clients, ['shop/api']);
  assert.equal(rounded(item.monthlyUsd), 9);
  assert.match(item.remedy, /read replica of shop\/postgres in each zone \(a, b, c\).*primary in a/);
  assert.deepEqual(item.evidence.map((e) => [e.source, rounded(e.monthlyUsd)]), [
    ['flows shop/postgres-0:5432 (a) -> shop/api-b (b), cross_zone', 6],
    ['flows shop/postgres-0:5432 (a) -> shop/api-c (c), cross_zone', 2],
    ['flows shop/api-b (b) -> shop/postgres-0:5432 (a), cross_zone', 1],
  ]);
});

test('a Service with endpoints in several zones whose clients cross zones: PreferClose, naming the Service', () => {
  const labels = (srcZone: string, dstZone: string, service?: string) => ({
    k8s_src_namespace: 'shop', k8s_src_owner_name: 'web', k8s_src_owner_type: 'Deployment', src_zone: srcZone,
    k8s_dst_namespace: 'shop', k8s_dst_owner_name: 'cart', k8s_dst_owner_type: 'StatefulSet', dst_zone: dstZone,
    k8s_dst_service_name: service, zonetap_traffic_class: srcZone === dstZone ? 'same_zone' : 'cross_zone',
  });
  const observed = [
    observedFromLabels(labels('a', 'b', 'cart'), 100, 3 * DOLLAR_A_MONTH, 'series 1'),
    observedFromLabels(labels('b', 'a', 'cart'), 100, 2 * DOLLAR_A_MONTH, 'series 2'),
    observedFromLabels(labels('a', 'a', 'cart'), 100, 0, 'series 3'),
  ];
  const [item] = advise(observed).items;
  assert.equal(item!.rule, 'prefer-close', 'a StatefulSet behind a Service is load-balanced: PreferClose, not per-zone readers');
  assert.equal(item!.service, 'cart');
  assert.match(item!.remedy, /trafficDistribution: PreferClose on Service cart/);
  assert.equal(rounded(item!.monthlyUsd), 5);
  assert.deepEqual(item!.evidence.map((e) => e.source), ['series 1', 'series 2']);
});

test('a Service that already routes by zone (k8s_dst_service_topology_aware) is not told to set PreferClose; clients in a zone without endpoints get replicas there', () => {
  const labels = (srcZone: string, dstZone: string, aware: boolean) => ({
    k8s_src_namespace: 'shop', k8s_src_owner_name: 'web', k8s_src_owner_type: 'Deployment', src_zone: srcZone,
    k8s_dst_namespace: 'shop', k8s_dst_owner_name: 'cart', k8s_dst_owner_type: 'Deployment', dst_zone: dstZone,
    k8s_dst_service_name: 'cart', k8s_dst_service_topology_aware: aware ? 'true' : undefined, zonetap_traffic_class: srcZone === dstZone ? 'same_zone' : 'cross_zone',
  });
  // Endpoints in a and b, clients in a and b: the same traffic as the PreferClose case above.
  const covered = (aware: boolean) => [
    observedFromLabels(labels('a', 'b', aware), 100, 3 * DOLLAR_A_MONTH, 'series 1'),
    observedFromLabels(labels('b', 'a', aware), 100, 2 * DOLLAR_A_MONTH, 'series 2'),
    observedFromLabels(labels('a', 'a', aware), 100, 0, 'series 3'),
  ];
  assert.deepEqual(advise(covered(false)).items.map((i) => i.rule), ['prefer-close'], 'without routing by zone');
  assert.deepEqual(advise(covered(true)).items, [], 'routing by zone is set and every client zone has an endpoint: nothing to set');
  // A client in zone c, where cart has no endpoint.
  const [item, ...rest] = advise([...covered(true), observedFromLabels(labels('c', 'a', true), 100, 4 * DOLLAR_A_MONTH, 'series 4')]).items;
  assert.equal(rest.length, 0);
  assert.equal(item!.rule, 'spread-replicas');
  assert.doesNotMatch(item!.remedy, /PreferClose/);
  assert.match(item!.remedy, /Run replicas of shop\/cart in c too/);
  assert.match(item!.finding, /Service cart \(shop\/cart\) routes by zone and has endpoints in a, b; its clients in c have none/);
  assert.equal(rounded(item!.monthlyUsd), 4, 'only the traffic of the clients in c: routing by zone already applies to a and b');
  assert.deepEqual(item!.evidence.map((e) => e.source), ['series 4']);
});

test('a Service in one zone that already routes by zone: spread its replicas, without telling it to set PreferClose', () => {
  const labels = (srcZone: string) => ({
    k8s_src_namespace: 'shop', k8s_src_owner_name: 'web', k8s_src_owner_type: 'Deployment', src_zone: srcZone,
    k8s_dst_namespace: 'shop', k8s_dst_owner_name: 'cart', k8s_dst_owner_type: 'Deployment', dst_zone: 'a',
    k8s_dst_service_name: 'cart', k8s_dst_service_topology_aware: 'true', zonetap_traffic_class: srcZone === 'a' ? 'same_zone' : 'cross_zone',
  });
  const [item] = advise([observedFromLabels(labels('b'), 100, DOLLAR_A_MONTH, 's1'), observedFromLabels(labels('c'), 100, DOLLAR_A_MONTH, 's2')]).items;
  assert.equal(item!.rule, 'spread-replicas');
  assert.doesNotMatch(item!.remedy, /PreferClose/);
});

test('a Deployment in several zones (no Service label): PreferClose on the Service in front of it; the server is the lower port', () => {
  const search = (zone: string) => end('shop', 'Deployment', 'search', `search-${zone}`, zone, 9200);
  const web = (zone: string) => end('shop', 'Deployment', 'web', `web-${zone}`, zone, 51000);
  const item = only([rec(search('a'), web('b'), 4), rec(search('b'), web('a'), 4), rec(search('a'), web('a'), 0)]);
  assert.equal(item.rule, 'prefer-close');
  assert.equal(item.server, 'shop/search');
  assert.match(item.remedy, /the Service in front of shop\/search/);
});

test('a Deployment whose replicas all sit in one zone while its clients are spread: topology spread constraints', () => {
  const search = end('shop', 'Deployment', 'search', 'search-1', 'a', 9200);
  const web = (zone: string) => end('shop', 'Deployment', 'web', `web-${zone}`, zone, 51000);
  const item = only([rec(search, web('b'), 3), rec(search, web('c'), 3)]);
  assert.equal(item.rule, 'spread-replicas');
  assert.match(item.remedy, /topologySpreadConstraints \(topologyKey: topology.kubernetes.io\/zone\).*every replica is in a while its clients are in b, c/);
});

test('one reader pulling from a StatefulSet\'s replicas in every zone: a reader per zone (the Polar Signals fix, per zone)', () => {
  const store = (zone: string) => end('monitoring', 'StatefulSet', 'metrics-store', `metrics-store-${zone}`, zone, 9090);
  const evaluator = end('monitoring', 'Deployment', 'rule-evaluator', 'rule-evaluator-x', 'a', 43000);
  const item = only([rec(store('a'), evaluator, 0), rec(store('b'), evaluator, 5), rec(store('c'), evaluator, 5)]);
  assert.equal(item.rule, 'reader-per-zone');
  assert.equal(item.server, 'monitoring/metrics-store');
  assert.match(item.remedy, /run monitoring\/rule-evaluator in every zone of monitoring\/metrics-store \(a, b, c\)/);
});

test('cross-region pairs: keep the reader in the data\'s region', () => {
  const store = end('monitoring', 'StatefulSet', 'thanos-store', 'thanos-store-0', 'eu-a', 10901, 'europe-west1');
  const ruler = end('monitoring', 'StatefulSet', 'thanos-ruler', 'thanos-ruler-0', 'us-a', 50000, 'us-east1');
  const item = only([rec(store, ruler, 20, 'cross_region'), rec(ruler, store, 1, 'cross_region')]);
  assert.equal(item.rule, 'keep-in-region');
  assert.equal(item.server, 'monitoring/thanos-store');
  assert.equal(rounded(item.monthlyUsd), 21);
  assert.match(item.remedy, /run monitoring\/thanos-ruler .* in europe-west1, as Polar Signals did with a Thanos stack per region/);
});

test('server and clients each in one zone: schedule them together', () => {
  const cache = end('shop', 'Deployment', 'cache', 'cache-1', 'a', 6379);
  const worker = end('shop', 'Deployment', 'worker', 'worker-1', 'b', 45000);
  assert.equal(only([rec(cache, worker, 2)]).rule, 'co-locate');
});

test('items are the costliest first, at most --top, with at most MAX_EVIDENCE pieces of evidence each', () => {
  const records: FlowRecord[] = [];
  const db = end('shop', 'StatefulSet', 'postgres', 'postgres-0', 'a', 5432);
  for (let i = 0; i < 8; i++) records.push(rec(db, end('shop', 'Deployment', 'api', `api-${i}`, i % 2 ? 'b' : 'c', 40000 + i), 1 + i));
  const cache = end('shop', 'Deployment', 'cache', 'cache-1', 'a', 6379);
  records.push(rec(cache, end('shop', 'Deployment', 'worker', 'worker-1', 'b', 45000), 100));
  const report = advise(observedFromRecords(records, 1), 1);
  assert.deepEqual(report.items.map((i) => i.server), ['shop/cache']);
  const both = advise(observedFromRecords(records, 1));
  assert.deepEqual(both.items.map((i) => [i.server, rounded(i.monthlyUsd)]), [['shop/cache', 100], ['shop/postgres', 36]]);
  assert.equal(both.items[1]!.evidence.length, MAX_EVIDENCE);
  assert.equal(both.items[1]!.evidenceCount, 8);
  assert.equal(rounded(both.monthlyUsdCrossing), 136, '100 + (1 + 2 + ... + 8)');
});

test('same-zone traffic and internet traffic call for nothing', () => {
  const a = end('shop', 'Deployment', 'api', 'api-1', 'a', 8080);
  const b = end('shop', 'Deployment', 'web', 'web-1', 'a', 50000);
  const out: FlowRecord = { src: b, dst: { address: '203.0.113.9', port: 443 }, transport: 'tcp', ipFamily: 'ipv4', bytes: 1e6, packets: 1, trafficClass: 'internet', costUsd: 0.01 };
  const report = advise(observedFromRecords([rec(a, b, 0), out], 1));
  assert.deepEqual(report.items, []);
  assert.match(renderAdviceText(report, { measured: 'test' }), /No change to advise/);
});

test('the recorded demo: the advice names the summary\'s two culprits, each with its remedy and the dollars of its flows', async () => {
  const file = join(import.meta.dirname, '../config/quickstart-flows.jsonl');
  const log = await observedFromFlowLog(file);
  const report = advise(log.observed);
  // The culprits as the demo's summary computes them (exporters/console, sim/live-view.ts).
  const { readFlowLog } = await import('../exporters/flowlog/index.ts');
  const records = (await readFlowLog(file)).batches.flatMap((b) => b.records);
  const totals = emptyTotals();
  for (const r of records) addTraffic(totals, sampleOf(r));
  const culprits = topPairs(totals, 2).map((p) => [p.src, p.dst]);
  assert.deepEqual(culprits, [['monitoring/metrics-store', 'monitoring/rule-evaluator'], ['shop/postgres', 'shop/api']]);
  assert.deepEqual(
    report.items.slice(0, 2).map((i) => [i.server, i.clients, i.rule]),
    [
      ['monitoring/metrics-store', ['monitoring/rule-evaluator'], 'reader-per-zone'],
      ['shop/postgres', ['shop/api'], 'zone-local-reads'],
    ],
  );
  // Dollars: the cross-zone cost of the pair's flows, both directions, per month at the log's rate.
  const workload = (e: FlowEndpoint) => `${e.namespace}/${e.workloadName}`;
  for (const item of report.items.slice(0, 2)) {
    const pair = new Set([item.server, item.clients[0]]);
    let usd = 0;
    for (const r of records) if (r.trafficClass === 'cross_zone' && pair.has(workload(r.src)) && pair.has(workload(r.dst)) && workload(r.src) !== workload(r.dst)) usd += r.costUsd!;
    assert.ok(usd > 0);
    assert.equal(rounded(item.monthlyUsd), rounded((usd / log.seconds) * 730 * 3600), item.server);
  }
  const html = renderAdviceHtml(report, { measured: file });
  assert.equal((html.match(/<li class="advice-item"/g) ?? []).length, report.items.length);
  assert.doesNotMatch(html, /<script/);
});
