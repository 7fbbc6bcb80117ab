/**
 * Server-side printing (meta.k8s.io/v1 Table), which `kubectl get` asks for
 * with `Accept: application/json;as=Table;v=v1;g=meta.k8s.io`. Columns follow
 * the real API server's printers for pods, nodes, services and endpointslices
 * (priority 1 = `-o wide`).
 */
import type { ResourceType } from './store.ts';
import type { KubeObject } from './selectors.ts';

export function isTableRequest(accept: string): boolean {
  return /as=Table/.test(accept) && /g=meta\.k8s\.io/.test(accept);
}

interface Column {
  name: string;
  type: string;
  format?: string;
  priority?: number;
  cell(o: KubeObject): unknown;
}

function age(o: KubeObject): string {
  const created = Date.parse(String(o.metadata.creationTimestamp ?? ''));
  if (Number.isNaN(created)) return '<unknown>';
  const s = Math.max(0, Math.floor((Date.now() - created) / 1000));
  if (s < 120) return `${s}s`;
  if (s < 3600 * 2) return `${Math.floor(s / 60)}m`;
  if (s < 86400 * 2) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86400)}d`;
}

const get = (o: unknown, path: string): any => path.split('.').reduce((c: any, k) => (c == null ? undefined : c[k]), o);

const NAME: Column = { name: 'Name', type: 'string', format: 'name', cell: (o) => o.metadata.name };
const AGE: Column = { name: 'Age', type: 'string', cell: age };

const COLUMNS: Record<string, Column[]> = {
  pods: [
    NAME,
    {
      name: 'Ready',
      type: 'string',
      cell: (o) => {
        const statuses: any[] = get(o, 'status.containerStatuses') ?? [];
        const total = (get(o, 'spec.containers') ?? []).length;
        return `${statuses.filter((c) => c.ready).length}/${total}`;
      },
    },
    { name: 'Status', type: 'string', cell: (o) => get(o, 'status.phase') ?? 'Pending' },
    { name: 'Restarts', type: 'string', cell: (o) => String((get(o, 'status.containerStatuses') ?? []).reduce((n: number, c: any) => n + (c.restartCount ?? 0), 0)) },
    AGE,
    { name: 'IP', type: 'string', priority: 1, cell: (o) => get(o, 'status.podIP') ?? '<none>' },
    { name: 'Node', type: 'string', priority: 1, cell: (o) => get(o, 'spec.nodeName') ?? '<none>' },
  ],
  nodes: [
    NAME,
    {
      name: 'Status',
      type: 'string',
      cell: (o) => ((get(o, 'status.conditions') ?? []).some((c: any) => c.type === 'Ready' && c.status === 'True') ? 'Ready' : 'NotReady'),
    },
    {
      name: 'Roles',
      type: 'string',
      cell: (o) =>
        Object.keys(o.metadata.labels ?? {})
          .filter((k) => k.startsWith('node-role.kubernetes.io/'))
          .map((k) => k.slice('node-role.kubernetes.io/'.length))
          .join(',') || '<none>',
    },
    AGE,
    { name: 'Version', type: 'string', cell: (o) => get(o, 'status.nodeInfo.kubeletVersion') ?? '' },
    { name: 'Internal-IP', type: 'string', priority: 1, cell: (o) => (get(o, 'status.addresses') ?? []).find((a: any) => a.type === 'InternalIP')?.address ?? '<none>' },
  ],
  services: [
    NAME,
    { name: 'Type', type: 'string', cell: (o) => get(o, 'spec.type') ?? 'ClusterIP' },
    { name: 'Cluster-IP', type: 'string', cell: (o) => get(o, 'spec.clusterIP') ?? '<none>' },
    { name: 'External-IP', type: 'string', cell: (o) => get(o, 'spec.externalName') ?? '<none>' },
    {
      name: 'Port(s)',
      type: 'string',
      cell: (o) => (get(o, 'spec.ports') ?? []).map((p: any) => `${p.port}/${p.protocol ?? 'TCP'}`).join(',') || '<none>',
    },
    AGE,
  ],
  endpointslices: [
    NAME,
    { name: 'AddressType', type: 'string', cell: (o) => get(o, 'addressType') ?? '' },
    { name: 'Ports', type: 'string', cell: (o) => (get(o, 'ports') ?? []).map((p: any) => String(p.port)).join(',') || '<unset>' },
    { name: 'Endpoints', type: 'string', cell: (o) => (get(o, 'endpoints') ?? []).flatMap((e: any) => e.addresses ?? []).join(',') || '<unset>' },
    AGE,
  ],
};

/** A Table of `objects`; `partial` rows carry PartialObjectMetadata, as the real server does by default. */
export function toTable(resource: ResourceType, objects: KubeObject[], resourceVersion: string, _watchEvent = false) {
  const columns = COLUMNS[resource.name] ?? [NAME, AGE];
  return {
    kind: 'Table',
    apiVersion: 'meta.k8s.io/v1',
    metadata: { resourceVersion },
    columnDefinitions: columns.map((c) => ({ name: c.name, type: c.type, format: c.format ?? '', description: '', priority: c.priority ?? 0 })),
    rows: objects.map((o) => ({
      cells: columns.map((c) => c.cell(o)),
      object: { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: o.metadata },
    })),
  };
}
