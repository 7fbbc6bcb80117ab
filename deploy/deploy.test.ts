/**
 * deploy/: alert rules (promtool), the PrometheusRule that carries them, the Grafana
 * dashboard's queries (promtool, on series shaped like zonetap's) and the container image's
 * recipe. The Kubernetes manifests are tested in kubernetes/kubernetes.test.ts.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { after, describe, test } from 'node:test';
import { parse, parseAllDocuments, stringify } from 'yaml';
import { ADDON_PATH } from '../native/index.ts';
import { PROMETHEUS_RULE_FILE, RULES_FILE, prometheusRuleText } from './sync-rules.ts';
import { exportedLabelNames, exportedMetricNames } from '../test/support/exported-names.ts';
import { DEPLOY } from '../test/support/manifests.ts';
import { run } from '../test/support/processes.ts';
import { promqlNames, substituteGrafanaVariables } from '../test/support/promql.ts';

const work = mkdtempSync(join(tmpdir(), 'zt-deploy-'));
after(() => rmSync(work, { recursive: true, force: true }));

interface Rule { alert?: string; record?: string; expr: string; for?: string; labels?: Record<string, string>; annotations?: Record<string, string> }
interface RuleFile { groups: { name: string; rules: Rule[] }[] }

const rules = parse(readFileSync(RULES_FILE, 'utf8')) as RuleFile;
const alertNames = rules.groups.flatMap((g) => g.rules.map((r) => r.alert).filter((a): a is string => a !== undefined));

/** Names an expression uses that zonetap does not export. */
function unknownNames(expr: string): string[] {
  const metrics = exportedMetricNames();
  const labels = exportedLabelNames();
  const used = promqlNames(expr);
  return [
    ...[...used.metrics].filter((m) => !metrics.has(m)).map((m) => `metric ${m}`),
    ...[...used.labels].filter((l) => !labels.has(l)).map((l) => `label ${l}`),
  ];
}

describe('alert rules (deploy/alerts)', () => {
  test('promtool check rules accepts the rule file', async () => {
    const r = await run('promtool', ['check', 'rules', RULES_FILE]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, new RegExp(`SUCCESS: ${alertNames.length} rules found`));
  });

  test('promtool test rules: every alert fires and stays quiet as its tests say', async () => {
    const r = await run('promtool', ['test', 'rules', join(DEPLOY, 'alerts', 'zonetap-rules.test.yaml')]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /SUCCESS/);
  });

  test('the unit tests cover each alert both firing and not firing', () => {
    const tests = (parse(readFileSync(join(DEPLOY, 'alerts', 'zonetap-rules.test.yaml'), 'utf8')) as {
      tests: { alert_rule_test?: { alertname: string; exp_alerts?: unknown[] }[] }[];
    }).tests.flatMap((t) => t.alert_rule_test ?? []);
    for (const name of alertNames) {
      const cases = tests.filter((t) => t.alertname === name);
      assert.ok(cases.some((c) => (c.exp_alerts ?? []).length > 0), `${name}: no test where it fires`);
      assert.ok(cases.some((c) => (c.exp_alerts ?? []).length === 0), `${name}: no test where it stays quiet`);
    }
    assert.deepEqual(
      alertNames.toSorted(),
      [
        'ZonetapAgentAbsent', 'ZonetapAgentDown', 'ZonetapAgentDroppingFlows', 'ZonetapAgentNotSyncedWithKubernetes', 'ZonetapExportFailing',
        'ZonetapGatewayAbsent', 'ZonetapGatewayDown', 'ZonetapProjectedMonthlyCrossZoneCostOverBudget', 'ZonetapWorkloadCrossZoneTrafficHigh',
      ],
    );
  });

  test('rules use only metric and label names that zonetap exports', () => {
    for (const rule of rules.groups.flatMap((g) => g.rules)) {
      assert.deepEqual(unknownNames(rule.expr), [], `${rule.alert}: ${rule.expr}`);
    }
  });

  test('the PrometheusRule object carries exactly the rule file (node deploy/sync-rules.ts)', () => {
    const text = readFileSync(PROMETHEUS_RULE_FILE, 'utf8');
    const object = parse(text) as { kind: string; spec: RuleFile };
    assert.equal(object.kind, 'PrometheusRule');
    assert.deepEqual(object.spec.groups, rules.groups, 'prometheusrule.yaml differs from zonetap-rules.yaml: run `node deploy/sync-rules.ts`');
    assert.equal(text, prometheusRuleText(readFileSync(RULES_FILE, 'utf8')), 'prometheusrule.yaml is stale: run `node deploy/sync-rules.ts`');
  });
});

interface Panel { id: number; type: string; title: string; datasource?: { uid: string }; targets?: { expr: string; refId: string; instant?: boolean }[] }
const dashboard = JSON.parse(readFileSync(join(DEPLOY, 'grafana', 'zonetap-dashboard.json'), 'utf8')) as {
  uid: string; panels: Panel[]; templating: { list: { name: string; query: unknown }[] };
};
const queryPanels = dashboard.panels.filter((p) => p.type !== 'row');

function panelExpr(title: string): string {
  const panel = queryPanels.find((p) => p.title === title);
  assert.ok(panel?.targets?.[0], `no panel "${title}"`);
  return substituteGrafanaVariables(panel.targets[0].expr);
}

describe('Grafana dashboard (deploy/grafana)', () => {
  test('shows the zone matrix, top workloads, cost and agent health', () => {
    assert.equal(dashboard.uid, 'zonetap');
    const titles = queryPanels.map((p) => p.title).join('\n');
    for (const want of [/Zone matrix/, /Top workloads by cross-zone/, /monthly cross-zone cost/, /cost per hour/i, /targets up/, /flow table full/, /Export failures/]) {
      assert.match(titles, want);
    }
    for (const panel of queryPanels) {
      assert.equal(panel.datasource?.uid, '${datasource}', `${panel.title}: use the dashboard's data source variable`);
      assert.ok((panel.targets ?? []).length > 0, `${panel.title}: no query`);
    }
  });

  test('every query is valid PromQL (promtool) over metrics and labels zonetap exports', async () => {
    const exprs = queryPanels.flatMap((p) => (p.targets ?? []).map((t) => ({ where: `${p.title} (${t.refId})`, expr: substituteGrafanaVariables(t.expr) })));
    for (const v of dashboard.templating.list) {
      if (typeof v.query === 'object' && v.query) {
        const m = /label_values\((\w+),\s*(\w+)\)/.exec((v.query as { query: string }).query);
        if (m) exprs.push({ where: `variable ${v.name}`, expr: `count by (${m[2]}) (${m[1]})` });
      }
    }
    for (const { where, expr } of exprs) assert.deepEqual(unknownNames(expr), [], `${where}: ${expr}`);
    const file = join(work, 'dashboard-rules.yaml');
    writeFileSync(file, stringify({ groups: [{ name: 'dashboard', rules: exprs.map((e, i) => ({ record: `zonetap_dashboard:query_${i}`, expr: e.expr })) }] }));
    const r = await run('promtool', ['check', 'rules', file]);
    assert.equal(r.code, 0, `${r.stdout}${r.stderr}\n${exprs.map((e, i) => `query_${i}: ${e.where}`).join('\n')}`);
  });

  test('the main panels compute the right numbers from zonetap series (promtool)', async () => {
    const bytes = (labels: string, perMinute: number) => ({
      series: `zonetap_network_flow_bytes_total{${labels}}`,
      values: `0+${perMinute}x60`,
    });
    const api = 'k8s_src_namespace="shop",k8s_src_owner_type="Deployment",k8s_src_owner_name="api"';
    const evaluator = 'k8s_src_namespace="monitoring",k8s_src_owner_type="Deployment",k8s_src_owner_name="rule-evaluator"';
    const input = [
      bytes(`${api},src_zone="zone-a",dst_zone="zone-b",k8s_dst_owner_name="postgres",zonetap_traffic_class="cross_zone"`, 60_000),
      bytes(`${api},src_zone="zone-c",dst_zone="zone-b",k8s_dst_owner_name="postgres",zonetap_traffic_class="cross_zone"`, 120_000),
      bytes(`${evaluator},src_zone="zone-a",dst_zone="zone-c",k8s_dst_owner_name="metrics-store",zonetap_traffic_class="cross_zone"`, 360_000),
      bytes(`${api},src_zone="zone-a",dst_zone="zone-a",k8s_dst_owner_name="cache",zonetap_traffic_class="same_zone"`, 600_000),
      bytes(`${api},src_zone="zone-a",zonetap_traffic_class="internet"`, 30_000),
      { series: `zonetap_network_flow_cost_usd_total{${evaluator},zonetap_traffic_class="cross_zone"}`, values: '0+0.0625x60' },
      { series: `zonetap_network_flow_cost_usd_total{${api},zonetap_traffic_class="internet"}`, values: '0+0.6x60' },
    ];
    const tests = [
      {
        expr: panelExpr('Zone matrix: bytes/s from zone (rows) to zone (columns)'),
        exp_samples: [
          { labels: '{src_zone="zone-a",dst_zone="zone-b"}', value: 1000 },
          { labels: '{src_zone="zone-c",dst_zone="zone-b"}', value: 2000 },
          { labels: '{src_zone="zone-a",dst_zone="zone-c"}', value: 6000 },
          { labels: '{src_zone="zone-a",dst_zone="zone-a"}', value: 10000 },
          { labels: '{src_zone="zone-a",dst_zone="internet"}', value: 500 },
        ],
      },
      {
        expr: panelExpr('Top workloads by cross-zone bytes/s'),
        exp_samples: [
          { labels: '{k8s_src_namespace="monitoring",k8s_src_owner_name="rule-evaluator"}', value: 6000 },
          { labels: '{k8s_src_namespace="shop",k8s_src_owner_name="api"}', value: 3000 },
        ],
      },
      // $0.0625 a minute, times 60 minutes times 730 hours; internet egress is not cross-zone.
      { expr: panelExpr('Projected monthly cross-zone cost'), exp_samples: [{ labels: '{}', value: 2737.5 }] },
    ].map((t) => ({ ...t, eval_time: '60m' }));
    writeFileSync(join(work, 'empty-rules.yaml'), 'groups: []\n');
    const file = join(work, 'dashboard.test.yaml');
    writeFileSync(file, stringify({ rule_files: ['empty-rules.yaml'], evaluation_interval: '1m', tests: [{ interval: '1m', input_series: input, promql_expr_test: tests }] }));
    const r = await run('promtool', ['test', 'rules', file]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
  });
});

/** Files reachable from `entry` through relative imports, and the packages they import. */
function importGraph(entry: string): { files: Set<string>; packages: Set<string> } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const pending = [entry];
  while (pending.length > 0) {
    const file = pending.pop()!;
    if (files.has(file)) continue;
    files.add(file);
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/(?:^|[\s;])(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|(?:^|[\s;])import\s*\(?\s*['"]([^'"]+)['"]/gm)) {
      if (/^\s*;?\s*(?:import|export)\s+type\s/.test(m[0])) continue; // erased at run time
      const specifier = (m[1] ?? m[2])!;
      if (specifier.startsWith('.')) pending.push(join(file, '..', specifier));
      else if (!specifier.startsWith('node:')) packages.add(specifier.startsWith('@') ? specifier.split('/').slice(0, 2).join('/') : specifier.split('/')[0]!);
    }
  }
  return { files, packages };
}

describe('container image (deploy/Dockerfile)', () => {
  const dockerfile = readFileSync(join(DEPLOY, 'Dockerfile'), 'utf8');
  const stages = dockerfile.split(/^FROM /m).slice(1);
  const runtime = stages.at(-1)!;
  const copies = [...dockerfile.matchAll(/^COPY\s+(--from=\S+\s+)?(.+)$/gm)].map((m) => {
    const parts = m[2]!.trim().split(/\s+/);
    return { from: m[1]?.trim().slice('--from='.length), sources: parts.slice(0, -1), target: parts.at(-1)! };
  });
  const runtimeCopies = [...runtime.matchAll(/^COPY\s+(?:--from=\S+\s+)?(.+)$/gm)].map((m) => m[1]!.trim().split(/\s+/)[0]!);

  test('is built on Node.js 24 and runs bin/zonetap', () => {
    assert.match(dockerfile, /^ARG NODE_IMAGE=node:24-bookworm-slim$/m);
    assert.equal(stages.length, 3);
    for (const stage of stages) assert.match(stage, /^\$\{NODE_IMAGE\}/);
    assert.match(runtime, /^ENTRYPOINT \["\/app\/bin\/zonetap"\]$/m);
    assert.match(runtime, /apt-get install -y --no-install-recommends libbpf1/);
    assert.match(readFileSync(join(DEPLOY, '..', 'bin', 'zonetap'), 'utf8'), /\|\| node=node/, 'bin/zonetap must fall back to the node on PATH');
  });

  test('fills the compile cache where bin/zonetap looks for it, for each user id the manifests run it as', () => {
    // Node keeps one cache per user id (a directory named ...-UID): each must be filled at build.
    const cache = /NODE_COMPILE_CACHE:-\$here\/([\w./-]+)\}/.exec(readFileSync(join(DEPLOY, '..', 'bin', 'zonetap'), 'utf8'))![1]!;
    const fill = `NODE_COMPILE_CACHE=/app/${cache} node scripts/fill-compile-cache.ts`;
    const manifests = readdirSync(join(DEPLOY, 'kubernetes'), { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.yaml'));
    const users = new Set(manifests.flatMap((f) => [...readFileSync(join(DEPLOY, 'kubernetes', f), 'utf8').matchAll(/runAsUser: (\d+)/g)].map((m) => m[1]!)));
    assert.deepEqual([...users].sort(), ['0', '1000']);
    const [asRoot, asUser] = runtime.split(/^USER 1000:1000$/m) as [string, string];
    assert.ok(asRoot.includes(fill) && asUser.includes(fill), `the runtime stage runs "${fill}" as root and after USER 1000:1000`);
    assert.ok(asRoot.indexOf(fill) > asRoot.lastIndexOf('COPY '), 'filled once every module is in place');
    assert.match(asRoot, new RegExp(`chown 1000:1000 ${cache}`), 'user 1000 may write its part of the cache at build');
  });

  test('builds with the Makefile and copies the addon (the eBPF objects are compiled into it) where native/ loads it', () => {
    const root = join(DEPLOY, '..');
    const loaded = [relative(root, ADDON_PATH)];
    const makefile = readFileSync(join(root, 'Makefile'), 'utf8');
    const made = ['BPF_OBJ', 'NATIVE_ADDON'].flatMap((v) => new RegExp(`^${v} := (.+)$`, 'm').exec(makefile)![1]!.trim().split(/\s+/));
    assert.match(dockerfile, new RegExp(`^RUN make ${loaded.join(' ')}$`, 'm'));
    for (const path of loaded) {
      assert.ok(made.includes(path), `the Makefile does not build ${path}`);
      assert.ok(copies.some((c) => c.from === 'build' && c.sources[0] === `/src/${path}` && c.target === path), `runtime stage does not copy ${path}`);
    }
  });

  test('holds every module that the zonetap command and the token Job import, and production dependencies only', () => {
    const root = join(DEPLOY, '..');
    const command = /"\$here\/(cli\/[\w.]+\.ts)"/.exec(readFileSync(join(root, 'bin', 'zonetap'), 'utf8'))![1]!;
    // The gateway overlay's Job runs `node /app/<script>` in the same image.
    const jobs = parseAllDocuments(readFileSync(join(DEPLOY, 'kubernetes', 'overlays', 'gateway', 'otlp-token.yaml'), 'utf8')).map((d) => d.toJS()).filter((o) => o?.kind === 'Job');
    const scripts = jobs.map((job) => {
      const [node, script] = job.spec.template.spec.containers[0].command as string[];
      assert.equal(node, 'node');
      assert.match(script!, /^\/app\//, 'the image keeps zonetap in /app (WORKDIR)');
      return script!.slice('/app/'.length);
    });
    assert.equal(scripts.length, 1);
    const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
    const copied = runtimeCopies.filter((s) => !s.startsWith('/'));
    for (const entry of [command, ...scripts]) {
      const { files, packages } = importGraph(join(root, entry));
      for (const file of files) {
        const path = relative(root, file);
        assert.ok(copied.some((c) => path === c || (c.endsWith('/') && path.startsWith(c))), `${path} is imported by ${entry} but the image does not copy it`);
      }
      for (const p of packages) assert.ok(p in manifest.dependencies, `${p} is imported at run time by ${entry} but is not a production dependency (npm ci --omit=dev)`);
    }
  });

  test('the build context (Dockerfile.dockerignore) lets in what the Dockerfile copies and keeps host builds out', () => {
    const ignore = readFileSync(join(DEPLOY, 'Dockerfile.dockerignore'), 'utf8').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
    assert.equal(ignore[0], '*', 'allow-list: start by excluding everything');
    const allowed = new Set(ignore.filter((l) => l.startsWith('!')).map((l) => l.slice(1).replace(/\/$/, '')));
    for (const c of copies.filter((c) => c.from === undefined)) {
      for (const source of c.sources) {
        const path = source.replace(/\/$/, '');
        if (path === '.') continue; // the whole context: what the allow-list lets in
        assert.ok(allowed.has(path) || [...allowed].some((a) => path.startsWith(`${a}/`)), `COPY ${source}: not in the build context`);
      }
    }
    for (const kept of ['native/build/', 'bpf/*.o', '**/node_modules/', '**/*.test.ts']) assert.ok(ignore.includes(kept), `${kept} should stay out of the context`);
  });
});
