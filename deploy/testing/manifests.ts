/** The rendered manifests, shared by deploy/kubernetes's tests: kustomize output and loose views of it. */
import { parse } from 'yaml';
import { join } from 'node:path';
import { DEPLOY, find, kustomize } from './tools.ts';
import type { K8sObject } from './tools.ts';

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
