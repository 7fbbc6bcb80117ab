/**
 * The README's PromQL for teams and Services, through Debian's Prometheus:
 * k8sattributes (source: kubernetes, the fake API server with Services,
 * EndpointSlices, labelled namespaces and pods, and a namespace annotated
 * `zonetap.io/ignore`) -> crosszone -> cost (custom prices) -> prometheus,
 * scraped by a real Prometheus. The expected answers come from the flow table
 * below, whose Service, team and zones are written by hand, not from the code
 * under test.
 *
 * Exact, as exporters/prometheus/prometheus-server.test.ts: every label set is
 * first exposed at 0 and scraped, and the queries are evaluated at the time of
 * a scrape after the last batch, so rate() over the window is the counter's
 * last value over the window, without extrapolation.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PrometheusFlowExporter, configSchema as prometheusConfig } from '../../exporters/prometheus/index.ts';
import type { FlowBatch, FlowRecord } from '../../pipeline/flow.ts';
import { costProcessorFactory } from '../cost/index.ts';
import { crosszoneProcessorFactory } from '../crosszone/index.ts';
import { FakeKubeApiServer, makeEndpointSlice, makeNamespace, makeNode, makePod, makeService } from '../../test/kube-api/index.ts';
import { testSettings } from '../../test/support/components.ts';
import { harness } from '../../test/support/k8sattributes.ts';
import { sleep, until } from '../../test/support/poll.ts';
import { readmeQuery } from '../../test/support/promql.ts';
import { startPrometheus, type PrometheusServer, type VectorSample } from '../../test/support/prometheus.ts';

/** USD per GB (10^9 bytes) by class: provider custom. */
const PRICES = { same_zone: 0, cross_zone: 0.01, cross_region: 0.02, internet: 0.09 };

/** Pods: namespace, name, zone, team (pod label), address. */
const PODS = [
  { namespace: 'shop', name: 'web-0', zone: 'zone-a', team: 'web', ip: '10.7.0.1' },
  { namespace: 'shop', name: 'web-1', zone: 'zone-b', team: 'web', ip: '10.7.0.2' },
  { namespace: 'shop', name: 'cart-0', zone: 'zone-a', team: 'checkout', ip: '10.7.0.3' },
  { namespace: 'shop', name: 'cart-1', zone: 'zone-b', team: 'checkout', ip: '10.7.0.4' },
  { namespace: 'data', name: 'pg-0', zone: 'zone-c', team: 'data', ip: '10.7.0.5' },
  { namespace: 'audit', name: 'scanner-0', zone: 'zone-a', team: 'security', ip: '10.7.0.6' },
] as const;
type PodName = (typeof PODS)[number]['name'];
const pod = (name: PodName) => PODS.find((p) => p.name === name)!;

/**
 * The flows, with what the README's queries must make of them: the
 * destination's Service by hand ('' for none); cross-zone when the zones
 * differ. pg-0 backs pg (5432) and pg-metrics (9187); web-0 backs no
 * Service; scanner-0's namespace is ignored, so its flows leave with its team
 * label gone.
 */
const FLOWS: { from: PodName; to: PodName; port: number; bytes: number; service: string; team: string }[] = [
  { from: 'web-0', to: 'cart-0', port: 8080, bytes: 4_000_000, service: 'shop/cart', team: 'web' },
  { from: 'web-0', to: 'cart-1', port: 8080, bytes: 1_000_000, service: 'shop/cart', team: 'web' },
  { from: 'web-1', to: 'cart-1', port: 8080, bytes: 3_000_000, service: 'shop/cart', team: 'web' },
  { from: 'cart-0', to: 'pg-0', port: 5432, bytes: 6_000_000, service: 'data/pg', team: 'checkout' },
  { from: 'cart-1', to: 'pg-0', port: 5432, bytes: 2_000_000, service: 'data/pg', team: 'checkout' },
  { from: 'web-0', to: 'pg-0', port: 9187, bytes: 500_000, service: 'data/pg-metrics', team: 'web' },
  { from: 'scanner-0', to: 'cart-1', port: 8080, bytes: 700_000, service: 'shop/cart', team: '' },
  { from: 'pg-0', to: 'web-0', port: 40000, bytes: 900_000, service: '', team: 'data' },
  // Service web (web-1 only) has no cross-zone bytes: its share is 0, not missing.
  { from: 'cart-1', to: 'web-1', port: 8080, bytes: 800_000, service: 'shop/web', team: 'checkout' },
];
const BATCHES = 4;

function cluster(server: FakeKubeApiServer): void {
  const s = server.store;
  for (const [i, zone] of ['zone-a', 'zone-b', 'zone-c'].entries()) s.create('nodes', makeNode({ name: `node-${zone}`, zone, region: 'r1', internalIPs: [`192.168.70.${i + 1}`] }));
  s.create('namespaces', makeNamespace({ name: 'shop' }));
  s.create('namespaces', makeNamespace({ name: 'data' }));
  s.create('namespaces', makeNamespace({ name: 'audit', annotations: { 'zonetap.io/ignore': 'true' } }));
  for (const p of PODS) s.create('pods', makePod({ namespace: p.namespace, name: p.name, node: `node-${p.zone}`, ips: [p.ip], labels: { team: p.team } }));
  const created = '2026-01-01T00:00:00Z';
  s.create('services', makeService({ namespace: 'shop', name: 'cart', clusterIPs: ['10.97.0.1'], ports: [{ port: 8080 }], creationTimestamp: created }));
  s.create('endpointslices', makeEndpointSlice({ namespace: 'shop', name: 'cart-1x', service: 'cart', endpoints: [{ address: pod('cart-0').ip }, { address: pod('cart-1').ip }], ports: [{ port: 8080 }] }));
  s.create('services', makeService({ namespace: 'data', name: 'pg', clusterIPs: ['10.97.0.2'], ports: [{ port: 5432 }], creationTimestamp: created }));
  s.create('endpointslices', makeEndpointSlice({ namespace: 'data', name: 'pg-1x', service: 'pg', endpoints: [{ address: pod('pg-0').ip }], ports: [{ port: 5432 }] }));
  s.create('services', makeService({ namespace: 'shop', name: 'web', clusterIPs: ['10.97.0.4'], ports: [{ port: 8080 }], creationTimestamp: created }));
  s.create('endpointslices', makeEndpointSlice({ namespace: 'shop', name: 'web-1x', service: 'web', endpoints: [{ address: pod('web-1').ip }], ports: [{ port: 8080 }] }));
  s.create('services', makeService({ namespace: 'data', name: 'pg-metrics', clusterIPs: ['10.97.0.3'], ports: [{ port: 9187 }], creationTimestamp: '2026-02-01T00:00:00Z' }));
  s.create('endpointslices', makeEndpointSlice({ namespace: 'data', name: 'pg-metrics-1x', service: 'pg-metrics', endpoints: [{ address: pod('pg-0').ip }], ports: [{ port: 9187 }] }));
}

function records(scale: number): FlowRecord[] {
  return FLOWS.map((f) => ({ src: { address: pod(f.from).ip, port: 41000 }, dst: { address: pod(f.to).ip, port: f.port }, transport: 'tcp', ipFamily: 'ipv4', bytes: f.bytes * scale, packets: scale }));
}

function sums(key: (f: (typeof FLOWS)[number]) => string | undefined, value: (f: (typeof FLOWS)[number]) => number): Map<string, number> {
  const out = new Map<string, number>();
  for (const f of FLOWS) {
    const k = key(f);
    if (k !== undefined) out.set(k, (out.get(k) ?? 0) + value(f));
  }
  return out;
}

function assertClose(actual: Map<string, number>, expected: Map<string, number>, what: string): void {
  assert.deepEqual([...actual.keys()].sort(), [...expected.keys()].sort(), `${what}: label sets`);
  for (const [k, want] of expected) assert.ok(Math.abs(actual.get(k)! - want) <= 1e-9 * Math.max(Math.abs(want), 1e-12), `${what} ${k}: got ${actual.get(k)}, expected ${want}`);
}

const byLabels = (samples: VectorSample[], labels: string[]) => new Map(samples.map((s) => [labels.map((l) => s.metric[l] ?? '').join('/'), Number(s.value[1])]));

test('README PromQL through a real Prometheus: cost by team, and the cross-zone share of each Service', { timeout: 120_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'zt-k8s-promql-'));
  const server = new FakeKubeApiServer({ bookmarkIntervalMs: 300 });
  const exporter = new PrometheusFlowExporter(testSettings('prometheus', 'exporter'), prometheusConfig.parse({ endpoint: '127.0.0.1:0' }));
  const cost = costProcessorFactory.create(testSettings('cost', 'processor'), costProcessorFactory.configSchema.parse({ provider: 'custom', prices: PRICES }), exporter);
  const crosszone = crosszoneProcessorFactory.create(testSettings('crosszone', 'processor'), crosszoneProcessorFactory.configSchema.parse({}), cost);
  await server.start();
  cluster(server);
  const h = harness({ kubeconfig: server.writeKubeconfig(join(dir, 'kubeconfig')), sync_timeout: '10s', max_held_records: 0, pod_labels: ['team'] });
  let prometheus: PrometheusServer | undefined;
  const send = async (scale: number) => {
    const before = h.out.batches.length;
    await h.processor.consume({ start: Date.now() - 1000, end: Date.now(), records: records(scale) });
    for (const b of h.out.batches.slice(before) as FlowBatch[]) await crosszone.consume(b);
  };
  try {
    await exporter.start();
    await h.processor.start();
    // Every label set first appears at 0 and is scraped at 0.
    await send(0);
    prometheus = await startPrometheus(dir, exporter.address!);
    await until('the first scrape', async () => {
      const r = await prometheus!.query('count(zonetap_network_flow_bytes_total == 0)');
      return r.length && Number(r[0]!.value[1]) === exporter.flows.size ? true : undefined;
    }, { details: prometheus.log, timeoutMs: 45_000, intervalMs: 200 });
    for (let b = 1; b <= BATCHES; b++) {
      await send(b);
      await sleep(1100);
    }
    const scale = (BATCHES * (BATCHES + 1)) / 2;
    const total = FLOWS.reduce((s, f) => s + f.bytes, 0) * scale;
    const T = await until('a scrape of the final totals', async () => {
      const [sum] = await prometheus!.query('sum(zonetap_network_flow_bytes_total)');
      if (Number(sum?.value[1]) !== total) return undefined;
      const [ts] = await prometheus!.query('max(timestamp(zonetap_network_flow_bytes_total))');
      return ts ? Number(ts.value[1]) : undefined;
    }, { details: prometheus.log, timeoutMs: 45_000, intervalMs: 200 });

    const crossZone = (f: (typeof FLOWS)[number]) => pod(f.from).zone !== pod(f.to).zone;
    // Cost per hour by team: rate over 1h of the cost counter, times 3600 = the cost counted (the window covers it all).
    const costByTeam = await prometheus.query(readmeQuery('Cost per hour by team, in US dollars'), T);
    assertClose(byLabels(costByTeam, ['k8s_src_pod_label_team']), sums((f) => f.team, (f) => (crossZone(f) ? PRICES.cross_zone : 0) * ((f.bytes * scale) / 1e9)), 'cost by team');
    assert.ok(costByTeam.some((s) => s.metric.k8s_src_pod_label_team === undefined && Number(s.value[1]) > 0), 'the ignored namespace\'s cost is there, without a team');

    const share = await prometheus.query(readmeQuery('Cross-zone share of each Service\'s bytes'), T);
    const all = sums((f) => f.service || undefined, (f) => f.bytes);
    const cross = sums((f) => f.service || undefined, (f) => (crossZone(f) ? f.bytes : 0));
    assertClose(byLabels(share, ['k8s_dst_service_namespace', 'k8s_dst_service_name']), new Map([...all].map(([k, v]) => [k, cross.get(k)! / v])), 'cross-zone share by Service');

    // The ignored namespace: one series, marked, its bytes all there.
    const ignored = await prometheus.query('sum by (k8s_src_namespace, k8s_src_name, zonetap_ignored) (zonetap_network_flow_bytes_total{zonetap_ignored="true"})', T);
    assert.deepEqual(ignored.map((s) => [s.metric.k8s_src_namespace, s.metric.k8s_src_name, Number(s.value[1])]), [['audit', undefined, 700_000 * scale]]);
  } finally {
    await prometheus?.stop();
    await h.processor.shutdown();
    await exporter.shutdown();
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
