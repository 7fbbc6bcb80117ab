/** Shared by deploy/'s tests: running the real tools, rendering manifests, the names zonetap exports. */
import { execFile } from 'node:child_process';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { FLOW_ATTRIBUTE_NAMES, labelName } from '../../pipeline/attributes.ts';

export const REPO = fileURLToPath(new URL('../../', import.meta.url));
export const DEPLOY = join(REPO, 'deploy');

export interface RunResult { code: number; stdout: string; stderr: string }

/** Runs a program to completion (never through a shell); `input` goes to its stdin. */
export function run(file: string, args: readonly string[], options: { input?: string; env?: NodeJS.ProcessEnv; cwd?: string } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = execFile(file, args, { env: options.env ?? process.env, cwd: options.cwd, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      if (err && typeof err.code !== 'number') return reject(err);
      resolve({ code: err ? Number(err.code) : 0, stdout, stderr });
    });
    if (options.input !== undefined) child.stdin!.end(options.input);
  });
}

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [field: string]: unknown;
}

/**
 * Debian 12's kubectl (kubernetes-client 1.20, kustomize v2.0.3), which scripts/setup.sh unpacks
 * beside the kubectl on PATH: the oldest kubectl the manifests support.
 */
export const KUBECTL_1_20 = join(REPO, '.tools', 'kubectl-1.20', 'usr', 'bin', 'kubectl');

/** `kubectl kustomize DIR` (with `kubectl`, by default the one on PATH): the rendered YAML, its objects and kubectl's warnings. */
export async function kustomize(dir: string, kubectl = 'kubectl'): Promise<{ yaml: string; objects: K8sObject[]; warnings: string }> {
  const r = await run(kubectl, ['kustomize', dir]);
  if (r.code !== 0) throw new Error(`${kubectl} kustomize ${dir} failed: ${r.stderr}`);
  const objects = parseAllDocuments(r.stdout).map((d) => d.toJS() as K8sObject).filter(Boolean);
  return { yaml: r.stdout, objects, warnings: r.stderr };
}

export function find(objects: readonly K8sObject[], kind: string, name: string): K8sObject {
  const found = objects.find((o) => o.kind === kind && o.metadata.name === name);
  if (!found) throw new Error(`no ${kind} ${name} among ${objects.map((o) => `${o.kind}/${o.metadata.name}`).join(', ')}`);
  return found;
}

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
