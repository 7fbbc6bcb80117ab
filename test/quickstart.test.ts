/**
 * The README's quick start as a user without privileges runs it: `bin/zonetap
 * run --config config/quickstart.yaml` from the checkout, as uid 65534 with no
 * capabilities (setpriv; a runner that is not root is unprivileged already).
 * It serves /metrics, and every flow series there equals the totals of the
 * recorded flow log, computed here from the JSONL lines themselves; it writes
 * the live view to stdout. A second config file moves the ports to free ones
 * and replays the file once, quickly (loop: false), so that the totals stop
 * where the file ends.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './support/loopback.ts';
import { until } from './support/poll.ts';
import { REPO, ZONETAP, run, startProgram } from './support/processes.ts';
import { scrapeMetrics, type Sample } from './support/prometheus.ts';

const FLOWS = join(REPO, 'config', 'quickstart-flows.jsonl');
/** Keys of a flow log line that are no Prometheus label by default: the interval, the counts, addresses and ports (address_labels: none, port_labels: false). */
const NOT_LABELS = new Set(['start', 'end', 'bytes', 'packets', 'zonetap.cost.usd', 'src.address', 'dst.address', 'src.port', 'dst.port']);
const UNPRIVILEGED = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=-all', '--bounding-set=-all', '--'];

type Line = Record<string, string | number | boolean>;
interface Truth {
  bytes: Map<string, number>;
  packets: Map<string, number>;
  cost: Map<string, number>;
  /** kubezonnet's metric: `namespace/pod` of the source -> bytes to a pod or node in another zone. */
  kubezonnet: Map<string, number>;
  /** `src -> dst` workload pairs that cross zones, as the live view names them. */
  crossingPairs: Set<string>;
  zones: Set<string>;
}

const key = (labels: Record<string, string>) => JSON.stringify(Object.entries(labels).sort(([a], [b]) => a.localeCompare(b)));
const add = (m: Map<string, number>, k: string, v: number) => m.set(k, (m.get(k) ?? 0) + v);

/** The totals /metrics must show, from the recorded lines alone. */
function truthOf(lines: readonly Line[]): Truth {
  const t: Truth = { bytes: new Map(), packets: new Map(), cost: new Map(), kubezonnet: new Map(), crossingPairs: new Set(), zones: new Set() };
  for (const line of lines) {
    const labels: Record<string, string> = {};
    for (const [k, v] of Object.entries(line)) if (!NOT_LABELS.has(k)) labels[k.replaceAll('.', '_')] = String(v);
    const k = key(labels);
    add(t.bytes, k, line.bytes as number);
    add(t.packets, k, line.packets as number);
    add(t.cost, k, line['zonetap.cost.usd'] as number);
    const [srcZone, dstZone] = [line['src.zone'], line['dst.zone']];
    for (const z of [srcZone, dstZone]) if (typeof z === 'string') t.zones.add(z);
    // kubezonnet: a pod (or a node, as `_node_`) sending to a pod or a node in another zone.
    const dstKnown = line['k8s.dst.name'] !== undefined || line['k8s.dst.owner.type'] === 'Node';
    if (srcZone && dstZone && srcZone !== dstZone && dstKnown) {
      if (line['k8s.src.host_network'] === true) add(t.kubezonnet, `_node_/${line['k8s.src.node.name']}`, line.bytes as number);
      else if (line['k8s.src.name'] !== undefined) add(t.kubezonnet, `${line['k8s.src.namespace']}/${line['k8s.src.name']}`, line.bytes as number);
    }
    if (line['zonetap.traffic.class'] === 'cross_zone' || line['zonetap.traffic.class'] === 'cross_region') {
      t.crossingPairs.add(`${line['k8s.src.namespace']}/${line['k8s.src.owner.name']} -> ${line['k8s.dst.namespace']}/${line['k8s.dst.owner.name']}`);
    }
  }
  return t;
}

/** Series of `name` keyed by label set (kubezonnet's by `namespace/pod`). */
function served(samples: readonly Sample[], name: string, by: (labels: Record<string, string>) => string = key): Map<string, number> {
  const m = new Map<string, number>();
  for (const s of samples) if (s.name === name) add(m, by(s.labels), s.value);
  return m;
}

const sum = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0);

test('the quick start runs without privileges, serves the recorded totals on /metrics and shows the live view', async (t) => {
  const lines = readFileSync(FLOWS, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Line);
  const truth = truthOf(lines);
  assert.ok(lines.length > 100 && truth.crossingPairs.size > 2 && truth.kubezonnet.size > 0 && truth.zones.size === 3, 'the recording has traffic within, across and out of 3 zones');

  const dir = mkdtempSync(join(tmpdir(), 'zt-quickstart-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  chmodSync(dir, 0o755);
  const [metricsPort, telemetryPort] = [await freePort(), await freePort()];
  const override = join(dir, 'ports.yaml');
  writeFileSync(
    override,
    `receivers:\n  replay: { interval: 20ms, loop: false }\nexporters:\n  prometheus: { endpoint: 127.0.0.1:${metricsPort} }\n  console: { interval: 300ms }\n` +
      `service:\n  telemetry:\n    metrics: { endpoint: 127.0.0.1:${telemetryPort} }\n`,
  );
  chmodSync(override, 0o644);

  const asRoot = process.getuid?.() === 0;
  const command = [...(asRoot ? UNPRIVILEGED : []), ZONETAP, 'run', '--config', 'config/quickstart.yaml', '--config', override];
  if (asRoot) {
    const canRead = await run(UNPRIVILEGED[0]!, [...UNPRIVILEGED.slice(1), 'cat', FLOWS, join(REPO, 'cli', 'main.ts')]);
    assert.equal(canRead.code, 0, `uid 65534 cannot read the checkout at ${REPO}: ${canRead.stderr}`);
  }
  const zonetap = startProgram(command[0]!, command.slice(1), { cwd: REPO, env: { PATH: process.env.PATH } });
  t.after(() => zonetap.stop('SIGKILL'));
  const details = { details: zonetap.output };

  // The live view, while the replay runs (its refreshes show only what came since the one before):
  // the three zones as rows of the matrix, and workload pairs that do cross zones in the recording.
  const view = await until('a live view with the top workloads', () => {
    const out = zonetap.output();
    const last = out.slice(out.lastIndexOf('-'.repeat(80)));
    return /Top workloads by cross-zone bytes\/s\n\s+1\. /.test(last) && last;
  }, details);
  assert.match(view, /console exporter "console" · 3 zones · flows of /);
  for (const zone of truth.zones) assert.match(view, new RegExp(`^${zone}\\s`, 'm'), `matrix row of ${zone}`);
  const listed = [...view.matchAll(/^\s+\d\. (\S+ -> \S+)\s/gm)].map((m) => m[1]!);
  assert.ok(listed.length > 0 && listed.every((pair) => truth.crossingPairs.has(pair)), `listed pairs cross zones in the recording: ${listed.join(', ')}`);

  // Asked once zonetap is serving: right after the spawn, ps can still see setpriv before it switched user.
  const ps = await run('ps', ['-o', 'uid=', '-p', String(zonetap.child.pid)]);
  if (asRoot) assert.equal(ps.stdout.trim(), '65534', 'zonetap runs as uid 65534');

  // The last recorded interval has arrived once the bytes on /metrics add up to the file's (new
  // label sets show their counts from the render after the one that showed them at 0).
  const samples = await until(
    'the whole recording on /metrics',
    async () => {
      const s = await scrapeMetrics(`127.0.0.1:${metricsPort}`);
      return sum(served(s, 'zonetap_network_flow_bytes_total')) === sum(truth.bytes) && s;
    },
    details,
  );
  assert.deepEqual(served(samples, 'zonetap_network_flow_bytes_total'), truth.bytes);
  assert.deepEqual(served(samples, 'zonetap_network_flow_packets_total'), truth.packets);
  const cost = served(samples, 'zonetap_network_flow_cost_usd_total');
  assert.deepEqual([...cost.keys()].sort(), [...truth.cost.keys()].sort());
  // The cost processor prices again what the demo's gateway priced (gcp, per GiB): the same dollars, summed in another order.
  // The recording predates GiB pricing; its zonetap.cost.usd was re-priced from its bytes at gcp's per-GiB table.
  for (const [k, usd] of truth.cost) assert.ok(Math.abs(cost.get(k)! - usd) <= 1e-12 + 1e-9 * usd, `${k}: ${cost.get(k)} USD served, ${usd} recorded`);
  assert.deepEqual(served(samples, 'pod_cross_zone_network_traffic_bytes_total', (l) => `${l.namespace}/${l.pod}`), truth.kubezonnet);

  assert.equal(await zonetap.stop('SIGTERM'), 0, zonetap.output());
});
