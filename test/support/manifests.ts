/** Test support: the rendered Kubernetes manifests of deploy/kubernetes (kustomize output) and loose views of them. */
import { join } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import { REPO, run } from './processes.ts';

export const DEPLOY = join(REPO, 'deploy');

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

/**
 * Rendered objects by `Kind/name`, with the hash that kustomize appends to generated names
 * (which differs between kustomize versions) blanked: `zonetap-agent-<hash>`. For comparing
 * what two kubectl versions build.
 */
export function objectsByName(yaml: string): Map<string, K8sObject> {
  const blanked = yaml.replace(/\b(zonetap-(?:agent|gateway|sidecar))-[a-z0-9]{10}\b/g, '$1-<hash>');
  return new Map(parseAllDocuments(blanked).map((d) => d.toJS() as K8sObject).filter(Boolean).map((o) => [`${o.kind}/${o.metadata.name}`, o]));
}

export const VARIANTS = { base: 'base', 'agent-only': 'overlays/agent-only', gateway: 'overlays/gateway' } as const;
export type Variant = keyof typeof VARIANTS;
export type Rendered = Record<Variant, { yaml: string; objects: K8sObject[]; warnings: string }>;

/** `kubectl kustomize` of the base and each overlay, with `kubectl` (by default the one on PATH). */
export async function renderAll(kubectl?: string): Promise<Rendered> {
  const rendered = {} as Rendered;
  for (const [variant, dir] of Object.entries(VARIANTS)) rendered[variant as Variant] = await kustomize(join(DEPLOY, 'kubernetes', dir), kubectl);
  return rendered;
}

// The objects are checked field by field against the API types (k8s-schema.ts); the tests
// read them loosely.
export type Json = any;
export const podSpec = (o: K8sObject): Json => (o as Json).spec.template.spec;
export const container = (o: K8sObject): Json => podSpec(o).containers[0];
export const agentOf = (rendered: Rendered, v: Variant): K8sObject => find(rendered[v].objects, 'DaemonSet', 'zonetap-agent');

/** The zonetap config a workload mounts (ConfigMap key config.yaml), as text and parsed. */
export function configOf(rendered: Rendered, v: Variant, workload: K8sObject): { text: string; config: Json } {
  const name = podSpec(workload).volumes.find((vol: Json) => vol.name === 'config').configMap.name;
  const text = (find(rendered[v].objects, 'ConfigMap', name) as Json).data['config.yaml'] as string;
  return { text, config: parse(text) };
}

export const endpointPort = (endpoint: string): number => Number(endpoint.split(':').at(-1));
/** The number of the container port called `name`. */
export function containerPort(c: Json, name: string): number {
  const port: unknown = c.ports.find((p: Json) => p.name === name)?.containerPort;
  if (typeof port !== 'number') throw new Error(`container ${c.name} has no port named ${name}`);
  return port;
}
