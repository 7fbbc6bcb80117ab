/**
 * A discovery-only Kubernetes API server on loopback, so that `kubectl apply --dry-run=client`
 * can map every manifest to its resource offline. It serves /api, /apis and the resource lists
 * of the group versions below (as a real >= 1.31 cluster with the Prometheus Operator CRDs
 * installed lists them) and answers 404 to every object GET: to kubectl, nothing exists yet.
 */
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';

type Resource = readonly [plural: string, kind: string, namespaced: boolean];

const GROUPS: Record<string, Record<string, readonly Resource[]>> = {
  '': { v1: [['namespaces', 'Namespace', false], ['serviceaccounts', 'ServiceAccount', true], ['configmaps', 'ConfigMap', true], ['services', 'Service', true], ['pods', 'Pod', true], ['nodes', 'Node', false], ['resourcequotas', 'ResourceQuota', true]] },
  apps: { v1: [['daemonsets', 'DaemonSet', true], ['deployments', 'Deployment', true], ['statefulsets', 'StatefulSet', true], ['replicasets', 'ReplicaSet', true]] },
  batch: { v1: [['jobs', 'Job', true], ['cronjobs', 'CronJob', true]] },
  'rbac.authorization.k8s.io': { v1: [['clusterroles', 'ClusterRole', false], ['clusterrolebindings', 'ClusterRoleBinding', false], ['roles', 'Role', true], ['rolebindings', 'RoleBinding', true]] },
  policy: { v1: [['poddisruptionbudgets', 'PodDisruptionBudget', true]] },
  'networking.k8s.io': { v1: [['networkpolicies', 'NetworkPolicy', true]] },
  'monitoring.coreos.com': { v1: [['servicemonitors', 'ServiceMonitor', true], ['podmonitors', 'PodMonitor', true], ['prometheusrules', 'PrometheusRule', true]] },
};

function resourceList(groupVersion: string, resources: readonly Resource[]) {
  return {
    kind: 'APIResourceList',
    apiVersion: 'v1',
    groupVersion,
    resources: resources.map(([name, kind, namespaced]) => ({
      name, singularName: kind.toLowerCase(), namespaced, kind, verbs: ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'],
    })),
  };
}

export interface DiscoveryServer {
  server: Server;
  url: string;
  /** Kubeconfig text that points kubectl at this server. */
  kubeconfig: string;
}

export async function startDiscoveryServer(): Promise<DiscoveryServer> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    const reply = (code: number, body: unknown) => {
      res.writeHead(code, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (path === '/api') return reply(200, { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: '127.0.0.1' }] });
    if (path === '/api/v1') return reply(200, resourceList('v1', GROUPS['']!.v1!));
    if (path === '/apis') {
      const groups = Object.entries(GROUPS).filter(([name]) => name !== '').map(([name, versions]) => {
        const list = Object.keys(versions).map((version) => ({ groupVersion: `${name}/${version}`, version }));
        return { name, versions: list, preferredVersion: list[0] };
      });
      return reply(200, { kind: 'APIGroupList', apiVersion: 'v1', groups });
    }
    const groupVersion = /^\/apis\/([^/]+)\/([^/]+)$/.exec(path);
    const resources = groupVersion && GROUPS[groupVersion[1]!]?.[groupVersion[2]!];
    if (groupVersion && resources) return reply(200, resourceList(`${groupVersion[1]}/${groupVersion[2]}`, resources));
    if (path === '/version') return reply(200, { major: '1', minor: '33', gitVersion: 'v1.33.0' });
    reply(404, { kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'NotFound', code: 404, message: `${path} not found` });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const kubeconfig = [
    'apiVersion: v1',
    'kind: Config',
    `clusters: [{name: discovery, cluster: {server: "${url}"}}]`,
    'users: [{name: nobody, user: {}}]',
    'contexts: [{name: discovery, context: {cluster: discovery, user: nobody}}]',
    'current-context: discovery',
    '',
  ].join('\n');
  return { server, url, kubeconfig };
}
