import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { FlowRecord } from '../../pipeline/flow.ts';
import { Lifecycle } from '../../pipeline/lifecycle.ts';
import { meteredSettings, serviceStartError, testSettings } from '../../test/support/components.ts';
import { flow, pod } from '../../test/support/flow-records.ts';
import { freePort, portIsFree } from '../../test/support/loopback.ts';
import { samplesOf as find, scrapeMetrics as scrape } from '../../test/support/prometheus.ts';
import { configSchema, prometheusExporterFactory, PrometheusFlowExporter, type PrometheusExporterConfig } from './index.ts';
import { Scrapers } from './scrapers.ts';
import { contextWithTimeout } from '../../pipeline/lifecycle.ts';
import { parseExposition, type Sample } from '../../test/support/prometheus.ts';

const testdata = (name: string) => parseYaml(readFileSync(join(import.meta.dirname, 'testdata', name), 'utf8'));

/**
 * Most tests here read counts in one scrape, so new label sets are served
 * with their counts at once; new_series_at_zero (the default) has its own tests below.
 */
function config(overrides: Partial<Record<keyof PrometheusExporterConfig, unknown>> = {}): PrometheusExporterConfig {
  return configSchema.parse({ endpoint: '127.0.0.1:0', new_series_at_zero: false, ...overrides });
}

const running: PrometheusFlowExporter[] = [];
after(async () => {
  for (const e of running) await e.shutdown();
});
async function started(cfg = config(), now?: () => number, settings = testSettings('prometheus', 'exporter')) {
  const e = new PrometheusFlowExporter(settings, cfg, { now });
  running.push(e);
  await e.start();
  return e;
}
const batch = (records: FlowRecord[], end = Date.now()) => ({ start: end - 1000, end, records });


const apiA = pod('shop', 'api-7d9f-abcde', 'api', 'node-a1', 'zone-a', 'region-1', '10.1.0.5', 43122);
const pgB = pod('db', 'pg-0', 'pg', 'node-b1', 'zone-b', 'region-1', '10.2.0.7', 5432);
const cacheA = pod('shop', 'cache-0', 'cache', 'node-a2', 'zone-a', 'region-1', '10.1.1.9', 6379);
const internet = { address: '203.0.113.9', port: 443 };

describe('config', () => {
  test('defaults', () => {
    assert.deepEqual(configSchema.parse({}), {
      endpoint: '127.0.0.1:9464', series_ttl: 15 * 60_000, max_series: 50_000, kubezonnet_compat: true, address_labels: 'none', port_labels: false,
      exposition_max_age: 1000, max_connections: 64, new_series_at_zero: true,
    });
    assert.deepEqual(configSchema.parse(testdata('full.yaml')), {
      endpoint: '0.0.0.0:9464', series_ttl: 5 * 60_000, max_series: 20_000, kubezonnet_compat: false, address_labels: 'unresolved', port_labels: true,
      exposition_max_age: 5000, max_connections: 16, new_series_at_zero: true,
    });
  });

  for (const [file, path, message] of [
    ['bad-series-ttl.yaml', 'series_ttl', 'invalid duration "15 minutes": expected a positive number with a unit (ms, s, m, h), like 10s'],
    ['bad-endpoint.yaml', 'endpoint', 'invalid endpoint "localhost": expected host:port, like 127.0.0.1:9464 or [::1]:4317'],
    ['bad-max-series.yaml', 'max_series', 'max_series must be at least 1'],
    ['bad-max-connections.yaml', 'max_connections', 'max_connections must be at least 1'],
    ['bad-exposition-max-age.yaml', 'exposition_max_age', 'expected a duration like 10s, 500ms, 2m or 1h'],
    ['unknown-key.yaml', '', 'Unrecognized key: "series_tll"'],
  ] as const) {
    test(`rejects testdata/${file}`, () => {
      const result = configSchema.safeParse(testdata(file));
      assert.equal(result.success, false);
      assert.deepEqual(result.error!.issues.map((i) => [i.path.join('::'), i.message]), [[path, message]]);
    });
  }
});

describe('series', () => {
  test('carry the record attributes as labels, without addresses and ports by default', async () => {
    const e = await started();
    await e.consume(batch([flow(apiA, pgB, 1000, 10, 'cross_zone', 0.002)]));
    const samples = await scrape(e.address!);
    const [bytes] = find(samples, 'zonetap_network_flow_bytes_total');
    assert.deepEqual(bytes, {
      name: 'zonetap_network_flow_bytes_total',
      labels: {
        k8s_src_namespace: 'shop', k8s_src_name: 'api-7d9f-abcde', k8s_src_owner_name: 'api', k8s_src_owner_type: 'Deployment', k8s_src_node_name: 'node-a1', src_zone: 'zone-a', src_region: 'region-1',
        k8s_dst_namespace: 'db', k8s_dst_name: 'pg-0', k8s_dst_owner_name: 'pg', k8s_dst_owner_type: 'Deployment', k8s_dst_node_name: 'node-b1', dst_zone: 'zone-b', dst_region: 'region-1',
        transport: 'tcp', network_type: 'ipv4', zonetap_traffic_class: 'cross_zone',
      },
      value: 1000,
    });
    assert.equal(find(samples, 'zonetap_network_flow_packets_total')[0]?.value, 10);
    assert.equal(find(samples, 'zonetap_network_flow_cost_usd_total')[0]?.value, 0.002);
    // No scope or target_info labels: the README's PromQL sees only flow labels.
    assert.deepEqual(new Set(samples.map((s) => s.name)), new Set([
      'zonetap_network_flow_bytes_total', 'zonetap_network_flow_packets_total', 'zonetap_network_flow_cost_usd_total', 'pod_cross_zone_network_traffic_bytes_total',
    ]));
  });

  test('are cumulative across batches, and cost appears only for label sets that have one', async () => {
    const e = await started();
    await e.consume(batch([flow(apiA, pgB, 1000, 10, 'cross_zone'), flow(apiA, cacheA, 300, 3, 'same_zone')]));
    await e.consume(batch([flow(apiA, pgB, 500, 5, 'cross_zone'), flow(apiA, cacheA, 200, 2, 'same_zone', 0)]));
    await e.consume(batch([flow({ ...apiA, port: 50000 }, pgB, 1, 1, 'cross_zone')]));
    const samples = await scrape(e.address!);
    assert.equal(find(samples, 'zonetap_network_flow_bytes_total', { zonetap_traffic_class: 'cross_zone' })[0]?.value, 1501, 'another source port is the same label set');
    assert.equal(find(samples, 'zonetap_network_flow_packets_total', { zonetap_traffic_class: 'cross_zone' })[0]?.value, 16);
    assert.equal(find(samples, 'zonetap_network_flow_bytes_total', { zonetap_traffic_class: 'same_zone' })[0]?.value, 500);
    assert.deepEqual(find(samples, 'zonetap_network_flow_cost_usd_total').map((s) => [s.labels.zonetap_traffic_class, s.value]), [['same_zone', 0]]);
  });

  test('address_labels and port_labels add addresses and ports when asked', async () => {
    const unresolved = await started(config({ address_labels: 'unresolved' }));
    await unresolved.consume(batch([flow(apiA, internet, 70, 1, 'internet'), flow(apiA, pgB, 1, 1, 'cross_zone')]));
    const u = find(await scrape(unresolved.address!), 'zonetap_network_flow_bytes_total');
    assert.deepEqual(u.map((s) => [s.labels.src_address, s.labels.dst_address, s.labels.dst_port]), [[undefined, '203.0.113.9', undefined], [undefined, undefined, undefined]]);

    const all = await started(config({ address_labels: 'all', port_labels: true }));
    await all.consume(batch([flow(apiA, pgB, 1, 1, 'cross_zone')]));
    const [s] = find(await scrape(all.address!), 'zonetap_network_flow_bytes_total');
    assert.deepEqual([s?.labels.src_address, s?.labels.src_port, s?.labels.dst_address, s?.labels.dst_port], ['10.1.0.5', '43122', '10.2.0.7', '5432']);
  });

  test('expire after series_ttl without flows, while active ones stay', async () => {
    let now = 1_000_000;
    const e = await started(config({ series_ttl: '1m' }), () => now);
    await e.consume(batch([flow(apiA, pgB, 100, 1, 'cross_zone'), flow(cacheA, pgB, 100, 1, 'cross_zone')]));
    now += 45_000;
    await e.consume(batch([flow(cacheA, pgB, 50, 1, 'cross_zone')]));
    now += 30_000; // api -> pg: 75 s idle; cache -> pg: 30 s
    const samples = await scrape(e.address!);
    assert.deepEqual(find(samples, 'zonetap_network_flow_bytes_total').map((s) => [s.labels.k8s_src_owner_name, s.value]), [['cache', 150]]);
    assert.deepEqual(find(samples, 'pod_cross_zone_network_traffic_bytes_total').map((s) => [s.labels.pod, s.value]), [['cache-0', 150]]);
    assert.equal(e.flows.expiredSeries, 1);
  });

  test('expire from consume() too, when nobody scrapes', async () => {
    let now = 0;
    const e = new PrometheusFlowExporter(testSettings('prometheus', 'exporter'), config({ series_ttl: '1m' }), { now: () => now });
    running.push(e);
    for (let i = 0; i < 100; i++) {
      await e.consume(batch([flow(pod('shop', `job-${i}`, 'job', 'node-a1', 'zone-a'), pgB, 1, 1, 'cross_zone')]));
      now += 10_000;
    }
    assert.ok(e.flows.size <= 8, `${e.flows.size} series kept for a 1m ttl at one new pod per 10 s`);
  });

  test('past max_series, new label sets are summed into the overflow series and reported in self-telemetry', async () => {
    const { settings, collect } = meteredSettings('prometheus/test', 'exporter');
    const e = await started(config({ max_series: 3 }), undefined, settings);
    const records = Array.from({ length: 5 }, (_, i) => flow(pod('shop', `api-${i}`, 'api', 'node-a1', 'zone-a'), pgB, 100 + i, 1, 'cross_zone'));
    await e.consume(batch(records));
    const samples = await scrape(e.address!);
    const bytes = find(samples, 'zonetap_network_flow_bytes_total');
    assert.equal(bytes.length, 4);
    assert.deepEqual(find(samples, 'zonetap_network_flow_bytes_total', { otel_metric_overflow: 'true' }).map((s) => [s.labels, s.value]), [[{ otel_metric_overflow: 'true' }, 103 + 104]]);
    assert.equal(bytes.reduce((sum, s) => sum + s.value, 0), 100 + 101 + 102 + 103 + 104, 'totals conserved');
    const kz = find(samples, 'pod_cross_zone_network_traffic_bytes_total');
    assert.equal(kz.length, 4);
    assert.equal(kz.reduce((sum, s) => sum + s.value, 0), 510);

    const metrics = await collect();
    const point = (name: string, family: string) =>
      metrics.find((m) => m.descriptor.name === name)?.dataPoints.find((p) => p.attributes.family === family && p.attributes.component_id === 'prometheus/test')?.value;
    assert.equal(point('zonetap.exporter.series.overflow', 'flow'), 2);
    assert.equal(point('zonetap.exporter.series.overflow', 'kubezonnet'), 2);
    assert.equal(point('zonetap.exporter.series', 'flow'), 4);
  });
});

describe('pod_cross_zone_network_traffic_bytes_total (kubezonnet)', () => {
  test('counts source-pod bytes of pod-to-pod flows between different zones, as kubezonnet does', async () => {
    const e = await started();
    const apiB = pod('shop', 'api-2', 'api', 'node-b2', 'zone-b', 'region-1');
    const farC = pod('shop', 'far-0', 'far', 'node-c1', 'zone-c', 'region-2');
    const hostA = { address: '10.9.0.1', port: 0, node: 'node-a1', zone: 'zone-a', region: 'region-1', hostNetwork: true, workloadKind: 'Node' };
    const aggregated = { address: '10.1.0.5', port: 0, namespace: 'shop', workloadKind: 'Deployment', workloadName: 'api', zone: 'zone-a', region: 'region-1' };
    await e.consume(batch([
      flow(apiA, pgB, 1000, 1, 'cross_zone'), // counted on shop/api-7d9f-abcde
      flow(apiA, cacheA, 500, 1, 'same_zone'), // same zone: no
      flow(apiA, internet, 400, 1, 'internet'), // destination is no pod: no
      flow(apiB, farC, 300, 1, 'cross_region'), // different zones (and regions): yes
      flow(hostA, pgB, 200, 1, 'cross_zone'), // node / hostNetwork source: _node_/node-a1
      flow(aggregated, pgB, 100, 1, 'cross_zone'), // pod name aggregated away: cannot be charged to a pod
      flow(apiA, pgB, 10, 1), // zones decide, not the traffic class
    ]));
    const kz = find(await scrape(e.address!), 'pod_cross_zone_network_traffic_bytes_total').map((s) => [s.labels.namespace, s.labels.pod, s.value]);
    assert.deepEqual(kz.sort(), [['_node_', 'node-a1', 200], ['shop', 'api-2', 300], ['shop', 'api-7d9f-abcde', 1010]]);
  });

  test('is absent with kubezonnet_compat: false', async () => {
    const e = await started(config({ kubezonnet_compat: false }));
    await e.consume(batch([flow(apiA, pgB, 1000, 1, 'cross_zone')]));
    const samples = await scrape(e.address!);
    assert.equal(find(samples, 'pod_cross_zone_network_traffic_bytes_total').length, 0);
    assert.equal(find(samples, 'zonetap_network_flow_bytes_total').length, 1);
  });
});

describe('what Prometheus sees: new label sets start at 0, and a clean shutdown waits for the last scrape', () => {
  /** A clock that moves 100 ms at every reading: every scrape gets a fresh render (exposition_max_age 1s passes within ten readings). */
  const ticking = () => {
    let t = 1_000_000;
    return () => (t += 100) && t;
  };
  const atZero = () => config({ new_series_at_zero: true, exposition_max_age: '10ms' });
  const scrapeAs = async (address: string, agent: string): Promise<Sample[]> => parseExposition(await (await fetch(`http://${address}/metrics`, { headers: { 'user-agent': agent } })).text());
  const bytesOf = (samples: Sample[]) => find(samples, 'zonetap_network_flow_bytes_total').map((x) => [x.labels.k8s_src_owner_name, x.value]);

  test('a new label set is served at 0 first, then with its count: increase() counts its first flows', async () => {
    const e = await started(atZero(), ticking());
    await e.consume(batch([flow(apiA, pgB, 1000, 10, 'cross_zone', 0.5)]));
    const first = await scrape(e.address!);
    assert.deepEqual(bytesOf(first), [['api', 0]]);
    assert.deepEqual(find(first, 'zonetap_network_flow_cost_usd_total').map((x) => x.value), [0]);
    assert.deepEqual(find(first, 'pod_cross_zone_network_traffic_bytes_total').map((x) => x.value), [0]);
    await e.consume(batch([flow(apiA, pgB, 500, 5, 'cross_zone'), flow(cacheA, pgB, 70, 1, 'cross_zone')]));
    assert.deepEqual(bytesOf(await scrape(e.address!)), [['api', 1500], ['cache', 0]], 'a known label set has its count at once; the new one starts at 0');
    assert.deepEqual(bytesOf(await scrape(e.address!)), [['api', 1500], ['cache', 70]]);
  });

  test('two regular scrapers (an HA pair) each see a new label set at 0 first; once shown with its count, it never goes back to 0', async () => {
    const e = await started(atZero(), ticking());
    const as = (agent: string) => async () => bytesOf(await scrapeAs(e.address!, agent));
    const [a, b, curl, late] = [as('Prometheus/2.42 (a)'), as('Prometheus/2.42 (b)'), as('curl/8'), as('Prometheus/2.42 (c)')];
    for (const scrapeOnce of [a, b, a, b]) await scrapeOnce(); // both regular now
    await e.consume(batch([flow(apiA, pgB, 1000, 10, 'cross_zone')]));
    assert.deepEqual(await a(), [['api', 0]]);
    assert.deepEqual(await curl(), [['api', 0]], 'a one-off client sees what the others see...');
    assert.deepEqual(await a(), [['api', 0]], 'b has not been served it yet: still 0, for a too');
    assert.deepEqual(await b(), [['api', 0]]);
    assert.deepEqual(await a(), [['api', 1000]], '...and holds nothing back: a and b have seen it at 0');
    assert.deepEqual(await b(), [['api', 1000]]);
    assert.deepEqual(await late(), [['api', 1000]], 'a scraper that comes later never sees a shown count fall back to 0');
  });

  test('shutdown waits until the regular scraper has been served the last counts (a new label set takes two scrapes)', async () => {
    const e = new PrometheusFlowExporter(testSettings('prometheus', 'exporter'), atZero(), { now: ticking() });
    await e.start();
    await e.consume(batch([flow(apiA, pgB, 1000, 10, 'cross_zone')]));
    await scrape(e.address!);
    await scrape(e.address!);
    await e.consume(batch([flow(apiA, pgB, 1, 1, 'cross_zone'), flow(cacheA, pgB, 70, 1, 'cross_zone')]));
    let stopped = false;
    const stopping = e.shutdown(contextWithTimeout(60_000)).then(() => (stopped = true));
    assert.deepEqual(bytesOf(await scrape(e.address!)), [['api', 1001], ['cache', 0]]);
    assert.equal(stopped, false, 'cache has not been shown with its count yet');
    assert.deepEqual(bytesOf(await scrape(e.address!)), [['api', 1001], ['cache', 70]]);
    await stopping;
    await assert.rejects(fetch(`http://${e.address ?? '127.0.0.1:1'}/metrics`));
  });

  test('the wait at shutdown ends when no regular scraper comes, when the scrapers stop coming, or at the deadline', async () => {
    let now = 0;
    const scrapeAt = (scrapers: Scrapers, client: string, at: number, show?: 'held') => {
      now = at;
      const render = scrapers.beginRender();
      if (show === 'held') render.held({} as never); // a new series, shown at 0
      render.end();
      scrapers.served(client, render.generation);
    };
    const idle = new Scrapers(() => now);
    idle.changed();
    assert.equal(await idle.awaitFinalScrapes(Infinity), 'no_scraper');
    scrapeAt(idle, 'curl', 10);
    idle.changed();
    assert.equal(await idle.awaitFinalScrapes(Infinity), 'no_scraper', 'a one-off client is not waited for');

    const scrapers = new Scrapers(() => now);
    scrapeAt(scrapers, 'prometheus', 0);
    scrapeAt(scrapers, 'prometheus', 100);
    scrapers.changed();
    assert.equal(await scrapers.awaitFinalScrapes(Date.now()), 'deadline');
    now = 3000;
    setTimeout(() => (now = 3400), 50); // no scrape for two of its 100 ms intervals and 3 s
    assert.equal(await scrapers.awaitFinalScrapes(Infinity), 'scraper_gone');
    scrapeAt(scrapers, 'prometheus', 3500);
    scrapeAt(scrapers, 'prometheus', 3600);
    scrapers.changed();
    setTimeout(() => scrapeAt(scrapers, 'prometheus', 3700, 'held'), 20); // a series still shown at 0: one more scrape
    setTimeout(() => scrapeAt(scrapers, 'prometheus', 3800), 40);
    assert.equal(await scrapers.awaitFinalScrapes(Infinity), 'complete');
  });
});

describe('lifecycle', () => {
  test('shutdown is idempotent and safe without start: the totals go, and a later start serves nothing', async () => {
    const port = await freePort();
    const e = new PrometheusFlowExporter(testSettings('prometheus', 'exporter'), config({ endpoint: `127.0.0.1:${port}` }));
    const life = new Lifecycle(e);
    await e.consume(batch([flow(apiA, pgB, 100, 1, 'cross_zone')]));
    assert.deepEqual([e.flows.size, e.kubezonnet?.size], [1, 1]);
    await life.shutdown();
    await life.shutdown();
    assert.deepEqual([e.flows.size, e.kubezonnet?.size], [0, 0], 'the totals were dropped');
    await assert.rejects(life.start(), /start\(\) after shutdown\(\)/);
    assert.equal(e.address, undefined, 'start after shutdown serves nothing');
    assert.equal(await portIsFree(port), true, 'nothing listens on the configured port');
  });

  test('shutdown() while start() is still binding: the port is free afterwards; a second shutdown waits for the first', async () => {
    const port = await freePort();
    const e = new Lifecycle(new PrometheusFlowExporter(testSettings('prometheus', 'exporter'), config({ endpoint: `127.0.0.1:${port}` })));
    const starting = e.start();
    const first = e.shutdown();
    let firstDone = false;
    void first.then(() => (firstDone = true));
    await e.shutdown();
    assert.equal(firstDone, true, 'the second shutdown resolved only after the first');
    await starting;
    assert.equal(await portIsFree(port), true, 'nothing listens on the port after shutdown');
  });

  test('start fails with the component name when the endpoint is taken', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as { port: number }).port;
    try {
      const err = await serviceStartError(prometheusExporterFactory, 'prometheus/busy', config({ endpoint: `127.0.0.1:${port}` }));
      assert.equal(err.code, 'ZT_COMPONENT_START');
      assert.match(err.message, new RegExp(`^failed to start "prometheus/busy" exporter: cannot serve /metrics on 127.0.0.1:${port}: .*EADDRINUSE`));
    } finally {
      blocker.close();
    }
  });

  test('serves only /metrics, and shutdown closes the server even with a keep-alive client', async () => {
    const e = await started();
    const address = e.address!;
    assert.equal((await fetch(`http://${address}/`)).status, 404);
    assert.equal((await fetch(`http://${address}/metrics`, { method: 'POST' })).status, 405);
    const empty = await fetch(`http://${address}/metrics`);
    assert.equal(empty.status, 200);
    assert.equal(await empty.text(), '# no registered metrics');
    await e.shutdown();
    await assert.rejects(fetch(`http://${address}/metrics`), /fetch failed/);
  });
});
