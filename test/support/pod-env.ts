/**
 * What the kubelet gives a workload's container, for running it outside a cluster: its
 * environment (literal values, the downward API fields, Secret keys) and its Secret volumes
 * written as files under a directory of the test's, with every environment value that points
 * into such a volume's mount path pointed at the file written instead.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { container, podSpec } from './manifests.ts';
import type { Json } from './manifests.ts';
import type { K8sObject } from './manifests.ts';

export interface PodFacts {
  /** Downward API values by fieldPath: spec.nodeName, status.podIP, metadata.namespace. */
  fields: Record<string, string>;
  /** Secret data by Secret name and key (plain text, as the container reads it). */
  secrets: Record<string, Record<string, string>>;
  /** Where Secret volumes are written (one subdirectory per volume). */
  volumesDir: string;
}

/** The container's environment as the kubelet sets it; a reference to a missing field or key throws. */
export function containerEnv(workload: K8sObject, facts: PodFacts): Record<string, string> {
  const mounts = secretMounts(workload, facts);
  const env: Record<string, string> = {};
  for (const e of (container(workload).env ?? []) as Json[]) {
    let value: string | undefined;
    if (e.value !== undefined) value = String(e.value);
    else if (e.valueFrom?.fieldRef) value = facts.fields[e.valueFrom.fieldRef.fieldPath];
    else if (e.valueFrom?.secretKeyRef) value = facts.secrets[e.valueFrom.secretKeyRef.name]?.[e.valueFrom.secretKeyRef.key];
    if (value === undefined) throw new Error(`${workload.metadata.name}: no value for env ${e.name} (${JSON.stringify(e.valueFrom)})`);
    for (const [mountPath, dir] of mounts) if (value.startsWith(`${mountPath}/`)) value = join(dir, value.slice(mountPath.length + 1));
    env[e.name] = value;
  }
  return env;
}

/** Writes each Secret volume the container mounts; returns mount path -> directory written. */
function secretMounts(workload: K8sObject, facts: PodFacts): Map<string, string> {
  const out = new Map<string, string>();
  for (const mount of (container(workload).volumeMounts ?? []) as Json[]) {
    const volume = podSpec(workload).volumes.find((v: Json) => v.name === mount.name);
    if (!volume?.secret) continue;
    const data = facts.secrets[volume.secret.secretName];
    if (!data) throw new Error(`${workload.metadata.name}: volume ${mount.name} needs Secret ${volume.secret.secretName}`);
    const dir = join(facts.volumesDir, `${workload.metadata.name}-${mount.name}`);
    mkdirSync(dir, { recursive: true });
    for (const [key, text] of Object.entries(data)) writeFileSync(join(dir, key), text, { mode: 0o644 });
    out.set(mount.mountPath.replace(/\/$/, ''), dir);
  }
  return out;
}

/** The container's command line with `$(VAR)` references expanded, as the kubelet does. */
export function containerCommand(workload: K8sObject, env: Record<string, string>): string[] {
  const c = container(workload);
  return [...(c.command ?? []), ...(c.args ?? [])].map((a: string) => a.replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (m, name: string) => env[name] ?? m));
}
