/** Builders for realistic Kubernetes objects, shaped as the real API returns them. */
import type { KubeObject } from './selectors.ts';

export interface NodeSpec {
  name: string;
  zone?: string;
  region?: string;
  /** Use the legacy failure-domain.beta.kubernetes.io labels instead of topology.kubernetes.io. */
  legacyLabels?: boolean;
  internalIPs?: string[];
  externalIPs?: string[];
  labels?: Record<string, string>;
  /** spec.podCIDRs (and spec.podCIDR, the first); none when the CNI allocates addresses itself. */
  podCIDRs?: string[];
}

export function makeNode(n: NodeSpec): KubeObject {
  const labels: Record<string, string> = { 'kubernetes.io/hostname': n.name, 'kubernetes.io/os': 'linux', ...n.labels };
  const prefix = n.legacyLabels ? 'failure-domain.beta.kubernetes.io' : 'topology.kubernetes.io';
  if (n.zone) labels[`${prefix}/zone`] = n.zone;
  if (n.region) labels[`${prefix}/region`] = n.region;
  return {
    metadata: { name: n.name, labels },
    spec: n.podCIDRs?.length ? { podCIDR: n.podCIDRs[0], podCIDRs: n.podCIDRs } : {},
    status: {
      addresses: [
        ...(n.internalIPs ?? []).map((address) => ({ type: 'InternalIP', address })),
        ...(n.externalIPs ?? []).map((address) => ({ type: 'ExternalIP', address })),
        { type: 'Hostname', address: n.name },
      ],
      conditions: [{ type: 'Ready', status: 'True', reason: 'KubeletReady', message: 'kubelet is posting ready status' }],
      nodeInfo: { kubeletVersion: 'v1.32.0', osImage: 'Debian GNU/Linux 12', architecture: 'amd64' },
      capacity: { cpu: '2', memory: '4Gi', pods: '110' },
    },
  };
}

export interface PodSpec {
  namespace?: string;
  name: string;
  node?: string;
  ips?: string[];
  hostNetwork?: boolean;
  owner?: { kind: string; name: string };
  labels?: Record<string, string>;
  phase?: string;
  creationTimestamp?: string;
}

export function makePod(p: PodSpec): KubeObject {
  const ips = p.ips ?? [];
  return {
    metadata: {
      name: p.name,
      namespace: p.namespace ?? 'default',
      labels: { app: p.name, ...p.labels },
      ...(p.creationTimestamp ? { creationTimestamp: p.creationTimestamp } : {}),
      ...(p.owner
        ? { ownerReferences: [{ apiVersion: p.owner.kind === 'Job' ? 'batch/v1' : 'apps/v1', kind: p.owner.kind, name: p.owner.name, uid: `uid-${p.owner.name}`, controller: true, blockOwnerDeletion: true }] }
        : {}),
      annotations: { 'kubectl.kubernetes.io/restartedAt': '2026-01-01T00:00:00Z' },
    },
    spec: {
      ...(p.node ? { nodeName: p.node } : {}),
      ...(p.hostNetwork ? { hostNetwork: true } : {}),
      containers: [{ name: 'main', image: 'registry.example/app:1.0', ports: [{ containerPort: 8080, protocol: 'TCP' }], resources: { requests: { cpu: '100m' } } }],
      restartPolicy: 'Always',
      schedulerName: 'default-scheduler',
      serviceAccountName: 'default',
    },
    status: {
      phase: p.phase ?? 'Running',
      ...(ips.length ? { podIP: ips[0], podIPs: ips.map((ip) => ({ ip })) } : {}),
      hostIP: '192.168.0.1',
      containerStatuses: [{ name: 'main', ready: true, restartCount: 0, image: 'registry.example/app:1.0', state: { running: { startedAt: '2026-01-01T00:00:00Z' } } }],
      conditions: [{ type: 'Ready', status: 'True' }],
    },
  };
}

export function makeReplicaSet(namespace: string, name: string, deployment?: string): KubeObject {
  return {
    metadata: {
      name,
      namespace,
      ...(deployment ? { ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name: deployment, uid: `uid-${deployment}`, controller: true }] } : {}),
    },
    spec: { replicas: 1, selector: { matchLabels: { app: name } } },
    status: { replicas: 1 },
  };
}

export function makeJob(namespace: string, name: string, cronJob?: string): KubeObject {
  return {
    metadata: {
      name,
      namespace,
      ...(cronJob ? { ownerReferences: [{ apiVersion: 'batch/v1', kind: 'CronJob', name: cronJob, uid: `uid-${cronJob}`, controller: true }] } : {}),
    },
    spec: { completions: 1 },
    status: { active: 1 },
  };
}

export interface ServiceSpec {
  namespace?: string;
  name: string;
  /** ClusterIP (default), NodePort, LoadBalancer, ExternalName; `headless` is a ClusterIP Service with clusterIP None. */
  type?: 'ClusterIP' | 'NodePort' | 'LoadBalancer' | 'ExternalName' | 'headless';
  clusterIPs?: string[];
  /** spec.ports: port and protocol (TCP by default); targetPort equals port. */
  ports?: { port: number; protocol?: string; name?: string }[];
  externalName?: string;
  creationTimestamp?: string;
  /** spec.trafficDistribution (PreferClose, PreferSameZone, PreferSameNode). */
  trafficDistribution?: string;
  annotations?: Record<string, string>;
}

export function makeService(s: ServiceSpec): KubeObject {
  const type = s.type === 'headless' || s.type === undefined ? 'ClusterIP' : s.type;
  const clusterIPs = s.type === 'headless' ? ['None'] : s.type === 'ExternalName' ? undefined : s.clusterIPs;
  return {
    metadata: { name: s.name, namespace: s.namespace ?? 'default', labels: { app: s.name }, ...(s.annotations ? { annotations: s.annotations } : {}), ...(s.creationTimestamp ? { creationTimestamp: s.creationTimestamp } : {}) },
    spec: {
      type,
      ...(clusterIPs?.length ? { clusterIP: clusterIPs[0], clusterIPs } : {}),
      ...(s.externalName ? { externalName: s.externalName } : {}),
      ...(type !== 'ExternalName' ? { selector: { app: s.name } } : {}),
      ports: (s.ports ?? []).map((p, i) => ({ name: p.name ?? `port-${i}`, port: p.port, targetPort: p.port, protocol: p.protocol ?? 'TCP' })),
      sessionAffinity: 'None',
      ...(s.trafficDistribution ? { trafficDistribution: s.trafficDistribution } : {}),
    },
    status: { loadBalancer: {} },
  };
}

export interface EndpointSliceSpec {
  namespace?: string;
  name: string;
  /** The Service it belongs to (label kubernetes.io/service-name); none for a slice managed by hand. */
  service?: string;
  addressType?: 'IPv4' | 'IPv6';
  /** One endpoint per pod: its address and the pod it is (targetRef). */
  endpoints: { address: string; pod?: string; node?: string; zone?: string; ready?: boolean; hintZones?: string[] }[];
  /** undefined: no ports (every port, as for a headless Service without ports). */
  ports?: { port: number; protocol?: string; name?: string }[];
}

export function makeEndpointSlice(e: EndpointSliceSpec): KubeObject {
  const namespace = e.namespace ?? 'default';
  return {
    metadata: {
      name: e.name,
      namespace,
      labels: { ...(e.service ? { 'kubernetes.io/service-name': e.service } : {}), 'endpointslice.kubernetes.io/managed-by': 'endpointslice-controller.k8s.io' },
      ...(e.service ? { ownerReferences: [{ apiVersion: 'v1', kind: 'Service', name: e.service, uid: `uid-${e.service}`, controller: true, blockOwnerDeletion: true }] } : {}),
    },
    addressType: e.addressType ?? (e.endpoints[0]?.address.includes(':') ? 'IPv6' : 'IPv4'),
    endpoints: e.endpoints.map((p) => ({
      addresses: [p.address],
      conditions: { ready: p.ready ?? true, serving: p.ready ?? true, terminating: false },
      ...(p.pod ? { targetRef: { kind: 'Pod', namespace, name: p.pod, uid: `uid-${p.pod}` } } : {}),
      ...(p.node ? { nodeName: p.node } : {}),
      ...(p.zone ? { zone: p.zone } : {}),
      // What the EndpointSlice controller writes for topology-aware routing: the zones this endpoint serves.
      ...(p.hintZones ? { hints: { forZones: p.hintZones.map((name) => ({ name })) } } : {}),
    })),
    ports: e.ports === undefined ? null : e.ports.map((p, i) => ({ name: p.name ?? `port-${i}`, port: p.port, protocol: p.protocol ?? 'TCP' })),
  };
}

export interface NamespaceSpec {
  name: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

export function makeNamespace(n: NamespaceSpec): KubeObject {
  return {
    metadata: { name: n.name, labels: { 'kubernetes.io/metadata.name': n.name, ...n.labels }, ...(n.annotations ? { annotations: n.annotations } : {}) },
    spec: { finalizers: ['kubernetes'] },
    status: { phase: 'Active' },
  };
}
