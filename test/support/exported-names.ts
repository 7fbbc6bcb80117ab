/**
 * Test support: the metric and label names zonetap serves, read from the code,
 * so that deploy/'s alert rules, dashboard and PromQL are checked against what
 * really exists.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { FLOW_ATTRIBUTE_NAMES, labelName } from '../../pipeline/attributes.ts';
import { REPO } from './processes.ts';

/** Every .ts file under `dir`, tests excluded. */
function sources(dir: string): string[] {
  let out: string[] = [];
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return out;
  }
  for (const entry of entries) {
    const path = join(dir, entry);
    if (entry === 'node_modules' || entry === 'testdata') continue;
    if (statSync(path).isDirectory()) out = out.concat(sources(path));
    else if (entry.endsWith('.ts') && !entry.endsWith('.test.ts')) out.push(path);
  }
  return out;
}

/**
 * Metric names zonetap serves to Prometheus, read from the sources that declare them: the
 * exporters' Prometheus names (`zonetap_…_total`, kubezonnet's `pod_cross_zone_…`) and the
 * self-telemetry instruments (`zonetap.receiver.flows.dropped` -> `zonetap_receiver_flows_dropped`,
 * plus `_total` for counters), and Prometheus' own `up`. A metric renamed in the code and not in
 * deploy/ fails the test.
 */
export function exportedMetricNames(): Set<string> {
  const names = new Set<string>(['up']);
  for (const file of ['pipeline', 'receivers', 'processors', 'exporters'].flatMap((d) => sources(join(REPO, d)))) {
    for (const m of readFileSync(file, 'utf8').matchAll(/['"`]((?:zonetap|pod_cross_zone)[._][a-z0-9_.]+)['"`]/g)) {
      const name = m[1]!.replaceAll('.', '_');
      names.add(name);
      if (!name.endsWith('_total')) names.add(`${name}_total`);
    }
  }
  return names;
}

/**
 * Label names on zonetap's metrics: flow attributes with `.` -> `_` (pipeline/attributes.ts),
 * kubezonnet's `namespace` and `pod`, Prometheus' target labels and the ServiceMonitors'
 * `node`, and the self-telemetry labels: every component's metrics carry `component_id`
 * (pipeline/README.md), plus kind (pipeline/telemetry/metrics.ts), outcome (receivers/otlp),
 * side and reason (processors/k8sattributes), family (exporters/prometheus).
 */
export function exportedLabelNames(): Set<string> {
  return new Set([
    ...FLOW_ATTRIBUTE_NAMES.map(labelName),
    ...['namespace', 'pod', 'job', 'instance', 'node'],
    ...['component_id', 'kind', 'outcome', 'side', 'reason', 'family'],
  ]);
}
