/**
 * `zonetap advise` as a user runs it (bin/zonetap): on the recorded demo's
 * flow log, and against Debian's Prometheus scraping a prometheus exporter
 * fed that log; bad command lines and unreadable inputs.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FlowRecord } from '../pipeline/flow.ts';
import { readFlowLog } from '../exporters/flowlog/index.ts';
import { configSchema, PrometheusFlowExporter } from '../exporters/prometheus/index.ts';
import { formatUsd } from '../advice/index.ts';
import { testSettings } from '../test/support/components.ts';
import { until } from '../test/support/poll.ts';
import { run, ZONETAP } from '../test/support/processes.ts';
import { startPrometheus, type PrometheusServer } from '../test/support/prometheus.ts';

const FLOWS = join(import.meta.dirname, '../config/quickstart-flows.jsonl');
const CULPRITS = [
  ['monitoring/metrics-store', ['monitoring/rule-evaluator'], 'reader-per-zone'],
  ['shop/postgres', ['shop/api'], 'zone-local-reads'],
];

interface AdviceJson {
  measured: string;
  monthlyUsdCrossing: number;
  items: Array<{ server: string; clients: string[]; rule: string; monthlyUsd: number; remedy: string; evidence: Array<{ source: string }> }>;
}

let dir: string;
let records: FlowRecord[];
before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'zt-advise-'));
  records = (await readFlowLog(FLOWS)).batches.flatMap((b) => b.records);
});
after(() => rmSync(dir, { recursive: true, force: true }));

/** The share of all crossing cost that flows between `server` and `client` (either way, cross-zone), from the log itself. */
function shareOfCrossingCost(server: string, client: string): number {
  const workload = (e: FlowRecord['src']) => `${e.namespace}/${e.workloadName}`;
  let pair = 0;
  let all = 0;
  for (const r of records) {
    if (r.trafficClass !== 'cross_zone' && r.trafficClass !== 'cross_region') continue;
    all += r.costUsd!;
    const ends = [workload(r.src), workload(r.dst)].sort().join(' ');
    if (r.trafficClass === 'cross_zone' && ends === [server, client].sort().join(' ')) pair += r.costUsd!;
  }
  return pair / all;
}

test('advise --flow-log: the two culprits of the demo, with remedy, dollars and evidence; json and text agree', async () => {
  const json = await run(ZONETAP, ['advise', '--flow-log', FLOWS, '--format', 'json']);
  assert.equal(json.code, 0, json.stderr);
  const report = JSON.parse(json.stdout) as AdviceJson;
  assert.deepEqual(report.items.slice(0, 2).map((i) => [i.server, i.clients, i.rule]), CULPRITS);
  assert.match(report.measured, /flow log .*quickstart-flows\.jsonl, 20 s of flows/);
  for (const item of report.items.slice(0, 2)) {
    assert.ok(Math.abs(item.monthlyUsd / report.monthlyUsdCrossing - shareOfCrossingCost(item.server, item.clients[0]!)) < 1e-9, item.server);
  }
  const text = await run(ZONETAP, ['advise', '--flow-log', FLOWS]);
  assert.equal(text.code, 0, text.stderr);
  assert.equal(text.stderr, '', 'a priced, undamaged log: no note');
  report.items.forEach((item, i) => assert.ok(text.stdout.includes(`${i + 1}. ${formatUsd(item.monthlyUsd)}/month at stake`), text.stdout));
  assert.match(text.stdout, /Do: Add a read replica of shop\/postgres in each zone/);
  assert.match(text.stdout, /- flows shop\/postgres-0:5432 \(us-central1-a\) -> shop\/api-5d8f7c-\w+ \(us-central1-[bc]\), cross_zone: /);
  const top1 = await run(ZONETAP, ['advise', '--flow-log', FLOWS, '--top', '1', '--format', 'html']);
  assert.equal((top1.stdout.match(/<li class="advice-item"/g) ?? []).length, 1);
});

test('advise: bad command lines exit 2, unreadable inputs exit 1 with ZT_ADVICE_INPUT and where', async () => {
  for (const [args, message] of [
    [[], 'zonetap advise needs --flow-log FILE or --prometheus URL (one of them)'],
    [['--flow-log', FLOWS, '--prometheus', 'http://127.0.0.1:9090'], 'zonetap advise needs --flow-log FILE or --prometheus URL (one of them)'],
    [['--flow-log', FLOWS, '--top', '0'], 'invalid --top "0": expected a whole number from 1 to 100'],
    [['--flow-log', FLOWS, '--format', 'yaml'], 'invalid --format "yaml": expected text, json or html'],
    [['--flow-log', FLOWS, '--window', '1h'], '--window is for --prometheus: a flow log is read whole'],
    [['--prometheus', 'prometheus:9090'], 'invalid --prometheus "prometheus:9090": expected a URL like http://prometheus:9090'],
    [['--prometheus', 'http://127.0.0.1:9090', '--window', 'an hour'], 'invalid --window "an hour": expected a duration like 1h or 30m'],
  ] as const) {
    const r = await run(ZONETAP, ['advise', ...args]);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.equal(r.stderr, `zonetap: ZT_USAGE: ${message}; see zonetap advise --help\n`);
  }
  const damaged = join(dir, 'damaged.jsonl');
  writeFileSync(damaged, 'not a flow\n');
  const bad = await run(ZONETAP, ['advise', '--flow-log', damaged]);
  assert.equal(bad.code, 1);
  assert.equal(bad.stderr, `zonetap: ZT_ADVICE_INPUT: ${damaged}:1: not valid JSON (Unexpected token 'o', "not a flow" is not valid JSON)\n`);
  const missing = await run(ZONETAP, ['advise', '--flow-log', join(dir, 'missing.jsonl')]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /^zonetap: ZT_ADVICE_INPUT: ENOENT: no such file or directory, open '.*missing\.jsonl'\n$/);
});

test('advise --prometheus: the same advice from a real Prometheus scraping zonetap, each item citing its series', { timeout: 180_000 }, async () => {
  const exporter = new PrometheusFlowExporter(testSettings('prometheus', 'exporter'), configSchema.parse({ endpoint: '127.0.0.1:0' }));
  await exporter.start();
  let prometheus: PrometheusServer | undefined;
  try {
    prometheus = await startPrometheus(dir, exporter.address!);
    await exporter.consume({ start: Date.now() - 20_000, end: Date.now(), records });
    // Rates need two samples with the flows in: wait for Prometheus to see the costs.
    await until('Prometheus to see the flows\' cost', async () => Number((await prometheus!.query('sum(rate(zonetap_network_flow_cost_usd_total[1h]))'))[0]?.value[1] ?? 0) > 0, { timeoutMs: 60_000 });
    const r = await run(ZONETAP, ['advise', '--prometheus', prometheus.url, '--window', '1h', '--format', 'json']);
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout) as AdviceJson;
    assert.deepEqual(report.items.slice(0, 2).map((i) => [i.server, i.clients, i.rule]), CULPRITS);
    assert.equal(report.measured, `Prometheus ${prometheus.url}, rates over the last 1h`);
    // Every series is scraped at the same times, so Prometheus' extrapolation cancels out of shares.
    for (const item of report.items.slice(0, 2)) {
      assert.ok(Math.abs(item.monthlyUsd / report.monthlyUsdCrossing - shareOfCrossingCost(item.server, item.clients[0]!)) < 1e-6, item.server);
      for (const e of item.evidence) assert.match(e.source, /^zonetap_network_flow_bytes_total\{dst_region=.*k8s_src_owner_name=.*zonetap_traffic_class="cross_zone"\}$/);
    }
    const refused = await run(ZONETAP, ['advise', '--prometheus', `${prometheus.url}/nothing`]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /^zonetap: ZT_ADVICE_INPUT: .*answered HTTP 404 with no Prometheus API response/);
  } finally {
    await prometheus?.stop();
    await exporter.shutdown();
  }
});
