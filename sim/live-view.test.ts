/** The demo's view computed from a known exposition: matrix, top workloads, cost, summary. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseExposition, sumOf } from './exposition.ts';
import { renderMatrix, topPairs } from '../exporters/console/index.ts';
import { ratesBetween, renderAdvice, renderLive, renderSummary, totalsOf } from './live-view.ts';

const series = (cls: string, src: [string, string, string], dst: [string, string, string] | undefined, bytes: number, usd: number) => {
  const labels = [
    `k8s_src_namespace="${src[0]}"`, `k8s_src_owner_name="${src[1]}"`, `src_zone="${src[2]}"`,
    ...(dst ? [`k8s_dst_namespace="${dst[0]}"`, `k8s_dst_owner_name="${dst[1]}"`, `dst_zone="${dst[2]}"`] : ['dst_address="203.0.113.50"']),
    `zonetap_traffic_class="${cls}"`,
  ].join(',');
  return `zonetap_network_flow_bytes_total{${labels}} ${bytes}\nzonetap_network_flow_cost_usd_total{${labels}} ${usd}\n`;
};

const exposition = (k: number) =>
  '# HELP zonetap_network_flow_bytes_total Bytes\n# TYPE zonetap_network_flow_bytes_total counter\n' +
  series('cross_zone', ['shop', 'postgres', 'zone-a'], ['shop', 'api', 'zone-b'], 3_000_000 * k, 0.03 * k) +
  series('cross_zone', ['monitoring', 'metrics-store', 'zone-c'], ['monitoring', 'rule-evaluator', 'zone-a'], 2_000_000 * k, 0.02 * k) +
  series('same_zone', ['shop', 'frontend', 'zone-a'], ['shop', 'api', 'zone-a'], 9_000_000 * k, 0) +
  series('internet', ['shop', 'payments', 'zone-c'], undefined, 100_000 * k, 0.012 * k);

test('the exposition parser reads labels (with escapes) and values', () => {
  const samples = parseExposition('a_total{x="1",y="q\\"uote"} 12.5\n# comment\nb 3 1700000000\n');
  assert.deepEqual(samples, [
    { name: 'a_total', labels: { x: '1', y: 'q"uote' }, value: 12.5 },
    { name: 'b', labels: {}, value: 3 },
  ]);
  assert.equal(sumOf(parseExposition(exposition(1)), 'zonetap_network_flow_bytes_total', { k8s_src_owner_name: 'postgres' }), 3_000_000);
});

test('rates between two scrapes give the matrix, the top pairs and the monthly cost', () => {
  const first = totalsOf(parseExposition(exposition(1)), 0);
  const second = totalsOf(parseExposition(exposition(3)), 2000);
  const rates = ratesBetween(first, second);
  assert.equal(rates.zones.get('zone-a\tzone-b'), 3_000_000);
  assert.equal(rates.zones.get('zone-a\tzone-a'), 9_000_000);
  assert.equal(rates.zones.get('zone-c\tinternet'), 100_000);
  assert.deepEqual(topPairs(rates, 5).map((p) => [p.src, p.dst, p.bytes]), [
    ['shop/postgres', 'shop/api', 3_000_000],
    ['monitoring/metrics-store', 'monitoring/rule-evaluator', 2_000_000],
  ]);
  assert.ok(Math.abs(rates.usd - 0.062) < 1e-9);
  const matrix = renderMatrix(rates, ['zone-a', 'zone-b', 'zone-c']);
  assert.match(matrix.split('\n')[0]!, /zone-a\s+zone-b\s+zone-c\s+internet/);
  assert.match(matrix.split('\n')[1]!, /^zone-a\s+9\.0 MB\/s\s+3\.0 MB\/s\s+-\s+-$/);
  const view = renderLive(rates, { provider: 'gcp', zones: ['zone-a', 'zone-b', 'zone-c'], elapsedS: 12, durationS: 60, metricsUrl: 'http://127.0.0.1:9464/metrics', jobRuns: 1 });
  assert.match(view, /1\. shop\/postgres -> shop\/api\s+3\.0 MB\/s/);
  // 0.062 USD/s (postgres -> api 0.03, metrics-store -> rule-evaluator 0.02, payments -> internet 0.012) x 730 h x 3600 s.
  assert.match(view, /\$162,936\/month at gcp prices/);
});

test('the summary names the culprits with their share and the PromQL to look further', () => {
  const totals = totalsOf(parseExposition(exposition(1)));
  const summary = renderSummary(totals, { provider: 'aws', zones: ['zone-a', 'zone-b', 'zone-c'], seconds: 60, metricsUrl: 'http://127.0.0.1:9464/metrics', flowLog: '/tmp/f.jsonl' });
  assert.match(summary, /1\. shop\/postgres -> shop\/api: 60%/);
  assert.match(summary, /2\. monitoring\/metrics-store -> monitoring\/rule-evaluator: 40%/);
  assert.match(summary, /rate\(zonetap_network_flow_bytes_total/);
  assert.match(summary, /\/tmp\/f\.jsonl/);
});

test('the advice section: each item with its rule, dollars, finding and remedy, and where to see the evidence', async () => {
  const { advise } = await import('../advice/index.ts');
  const { observedFromFlowLog } = await import('../exporters/flowlog/index.ts');
  const flowLog = new URL('../config/quickstart-flows.jsonl', import.meta.url).pathname;
  const text = renderAdvice(advise((await observedFromFlowLog(flowLog)).observed, 2), { flowLog, adviceUrl: 'http://127.0.0.1:9464/advice' });
  const lines = text.split('\n');
  assert.equal(lines[0], 'What to change (zonetap advise, from the flows measured):');
  assert.match(lines[1]!, /^ {2}1\. monitoring\/metrics-store \[reader-per-zone\], \$15\.83\/month at stake: monitoring\/rule-evaluator \(in us-central1-a\) reads/);
  assert.match(lines[2]!, /^ {5}Do: Keep each reader with its data: run monitoring\/rule-evaluator in every zone/);
  assert.match(lines[3]!, /^ {2}2\. shop\/postgres \[zone-local-reads\], \$10\.03\/month at stake: 100% of the traffic between shop\/postgres and shop\/api/);
  assert.equal(lines.at(-1), `  all of it with its evidence: zonetap advise --flow-log ${flowLog}; http://127.0.0.1:9464/advice (served while zonetap runs)`);
});
