/**
 * The fake API server's storage: objects per resource, one resourceVersion
 * counter shared by every resource (as etcd's revision is), and a bounded event
 * history that watches resume from. Versions older than the history window are
 * "too old" (410 Gone), exactly as after an etcd compaction.
 */
import { randomUUID } from 'node:crypto';
import type { KubeObject } from './selectors.ts';

export interface ResourceType {
  /** Plural path segment: `pods`. */
  name: string;
  group: '' | 'apps' | 'batch' | 'discovery.k8s.io';
  version: 'v1';
  kind: string;
  namespaced: boolean;
  shortNames: readonly string[];
  /** Extra fieldSelector fields beyond metadata.name / metadata.namespace. */
  fields: readonly string[];
}

export const RESOURCES: readonly ResourceType[] = [
  { name: 'pods', group: '', version: 'v1', kind: 'Pod', namespaced: true, shortNames: ['po'], fields: ['spec.nodeName', 'spec.restartPolicy', 'spec.schedulerName', 'spec.serviceAccountName', 'spec.hostNetwork', 'status.phase', 'status.podIP', 'status.nominatedNodeName'] },
  { name: 'nodes', group: '', version: 'v1', kind: 'Node', namespaced: false, shortNames: ['no'], fields: ['spec.unschedulable'] },
  { name: 'namespaces', group: '', version: 'v1', kind: 'Namespace', namespaced: false, shortNames: ['ns'], fields: ['status.phase'] },
  { name: 'replicasets', group: 'apps', version: 'v1', kind: 'ReplicaSet', namespaced: true, shortNames: ['rs'], fields: ['status.replicas'] },
  { name: 'jobs', group: 'batch', version: 'v1', kind: 'Job', namespaced: true, shortNames: [], fields: ['status.successful'] },
  { name: 'secrets', group: '', version: 'v1', kind: 'Secret', namespaced: true, shortNames: [], fields: ['type'] },
  { name: 'services', group: '', version: 'v1', kind: 'Service', namespaced: true, shortNames: ['svc'], fields: ['spec.clusterIP', 'spec.type'] },
  { name: 'endpointslices', group: 'discovery.k8s.io', version: 'v1', kind: 'EndpointSlice', namespaced: true, shortNames: [], fields: [] },
];

export function apiVersionOf(r: ResourceType): string {
  return r.group ? `${r.group}/${r.version}` : r.version;
}

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface StoredEvent {
  rv: number;
  resource: string;
  type: WatchEventType;
  object: KubeObject;
  /** The object before the change (MODIFIED), to tell selector enter/leave. */
  previous?: KubeObject;
}

type Listener = (event: StoredEvent) => void;

function keyOf(obj: KubeObject): string {
  return `${obj.metadata.namespace ?? ''}/${obj.metadata.name}`;
}

export class ObjectStore {
  readonly #objects = new Map<string, Map<string, KubeObject>>();
  readonly #history: StoredEvent[] = [];
  readonly #listeners = new Set<Listener>();
  readonly #historyLimit: number;
  #rv = 1;
  /** Watches from a version below this are answered with 410 Gone. */
  #oldestValid = 1;

  constructor(historyLimit = 10_000) {
    this.#historyLimit = historyLimit;
    for (const r of RESOURCES) this.#objects.set(r.name, new Map());
  }

  get resourceVersion(): number {
    return this.#rv;
  }

  get oldestValidVersion(): number {
    return this.#oldestValid;
  }

  resource(name: string): ResourceType {
    const r = RESOURCES.find((x) => x.name === name);
    if (!r) throw new Error(`unknown resource "${name}"`);
    return r;
  }

  list(resource: string): KubeObject[] {
    return [...this.#objects.get(resource)!.values()];
  }

  get(resource: string, namespace: string | undefined, name: string): KubeObject | undefined {
    return this.#objects.get(resource)!.get(`${namespace ?? ''}/${name}`);
  }

  /** Events after `rv` (exclusive), or undefined when `rv` is older than the kept history. */
  since(rv: number): StoredEvent[] | undefined {
    if (rv < this.#oldestValid) return undefined;
    let lo = 0;
    let hi = this.#history.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.#history[mid]!.rv <= rv) lo = mid + 1;
      else hi = mid;
    }
    return this.#history.slice(lo);
  }

  subscribe(listener: Listener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  create(resource: string, input: KubeObject): KubeObject {
    const r = this.resource(resource);
    const obj = structuredClone(input);
    if (r.namespaced) obj.metadata.namespace ??= 'default';
    else delete obj.metadata.namespace;
    const key = keyOf(obj);
    if (this.#objects.get(resource)!.has(key)) throw new Error(`${resource} "${key}" already exists`);
    obj.apiVersion = apiVersionOf(r);
    obj.kind = r.kind;
    obj.metadata.uid ??= randomUUID();
    obj.metadata.creationTimestamp ??= new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    return this.#commit(resource, 'ADDED', obj, undefined);
  }

  /** Changes a copy of the stored object with `change` and stores it as a new version. */
  modify(resource: string, namespace: string | undefined, name: string, change: (obj: KubeObject) => void): KubeObject {
    const r = this.resource(resource);
    const current = this.get(resource, r.namespaced ? (namespace ?? 'default') : undefined, name);
    if (!current) throw new Error(`${resource} "${namespace ?? ''}/${name}" not found`);
    const obj = structuredClone(current);
    change(obj);
    return this.update(resource, obj);
  }

  /** Replaces the object with the same namespace/name. */
  update(resource: string, input: KubeObject): KubeObject {
    const r = this.resource(resource);
    const obj = structuredClone(input);
    if (r.namespaced) obj.metadata.namespace ??= 'default';
    const previous = this.#objects.get(resource)!.get(keyOf(obj));
    if (!previous) throw new Error(`${resource} "${keyOf(obj)}" not found`);
    obj.apiVersion = apiVersionOf(r);
    obj.kind = r.kind;
    obj.metadata.uid = previous.metadata.uid;
    obj.metadata.creationTimestamp = previous.metadata.creationTimestamp;
    return this.#commit(resource, 'MODIFIED', obj, previous);
  }

  delete(resource: string, namespace: string | undefined, name: string): KubeObject {
    const r = this.resource(resource);
    const current = this.get(resource, r.namespaced ? (namespace ?? 'default') : undefined, name);
    if (!current) throw new Error(`${resource} "${namespace ?? ''}/${name}" not found`);
    return this.#commit(resource, 'DELETED', structuredClone(current), current);
  }

  /** Forgets all history up to now: any watch or continue token from an older version gets 410 Gone. */
  compact(): void {
    this.#history.length = 0;
    this.#oldestValid = this.#rv;
  }

  #commit(resource: string, type: WatchEventType, obj: KubeObject, previous: KubeObject | undefined): KubeObject {
    this.#rv++;
    obj.metadata.resourceVersion = String(this.#rv);
    const objects = this.#objects.get(resource)!;
    if (type === 'DELETED') objects.delete(keyOf(obj));
    else objects.set(keyOf(obj), obj);
    const event: StoredEvent = { rv: this.#rv, resource, type, object: obj, previous };
    this.#history.push(event);
    if (this.#history.length > this.#historyLimit) {
      const dropped = this.#history.splice(0, this.#history.length - this.#historyLimit);
      this.#oldestValid = dropped[dropped.length - 1]!.rv;
    }
    for (const l of this.#listeners) l(event);
    return structuredClone(obj);
  }
}
