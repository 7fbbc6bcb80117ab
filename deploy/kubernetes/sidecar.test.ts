/**
 * deploy/kubernetes/overlays/sidecar: zonetap added to one workload as a native sidecar. Renders
 * with kubectl 1.20 and the current kubectl to the same objects, matches the API types, passes
 * `kubectl apply --dry-run=client`, changes nothing of the app but adds the sidecar, runs in the
 * pod's own network namespace with exactly the capabilities its eBPF program needs there, binds
 * read-only RBAC to the workload's ServiceAccount, and carries config/sidecar.yaml.
 * sim/sidecar.test.ts runs the sidecar as deployed on the real kernel.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parse } from 'yaml';
import { assertExactlyNeeded } from '../../test/support/capabilities.ts';
import { checkObject, isKnownKind } from '../../test/support/k8s-schema.ts';
import { startDiscoveryServer } from '../../test/support/kube-discovery.ts';
import { DEPLOY, KUBECTL_1_20, endpointPort, find, kustomize, objectsByName, podSpec } from '../../test/support/manifests.ts';
import type { Json, K8sObject } from '../../test/support/manifests.ts';
import { containerEnv } from '../../test/support/pod-env.ts';
import { requirePrivileges } from '../../test/support/privileges.ts';
import { REPO, run } from '../../test/support/processes.ts';

const OVERLAY = join(DEPLOY, 'kubernetes', 'overlays', 'sidecar');
const work = mkdtempSync(join(tmpdir(), 'zt-deploy-sidecar-'));
after(() => rmSync(work, { recursive: true, force: true }));

type Rendered = Awaited<ReturnType<typeof kustomize>>;
let rendered: Rendered;
let app: Rendered;
before(async () => {
  [rendered, app] = await Promise.all([kustomize(OVERLAY), kustomize(join(OVERLAY, 'example-app'))]);
});
const workload = () => find(rendered.objects, 'StatefulSet', 'postgres') as Json;
const sidecar = (): Json => podSpec(workload()).initContainers.find((c: Json) => c.name === 'zonetap');
const portOf = (c: Json, name: string): number => c.ports.find((p: Json) => p.name === name).containerPort;
const configMap = (): { text: string; config: Json } => {
  const name = podSpec(workload()).volumes.find((v: Json) => v.name === 'zonetap-config').configMap.name;
  const text = (find(rendered.objects, 'ConfigMap', name) as Json).data['config.yaml'] as string;
  return { text, config: parse(text) };
};

describe('the sidecar overlay (deploy/kubernetes/overlays/sidecar)', () => {
  test("kubectl 1.20's kustomize (no Components: an overlay) builds the same objects as the current kubectl", async () => {
    const old = await kustomize(OVERLAY, KUBECTL_1_20);
    const current = objectsByName(rendered.yaml);
    const older = objectsByName(old.yaml);
    assert.deepEqual([...older.keys()].sort(), [...current.keys()].sort());
    for (const [name, object] of current) assert.deepEqual(older.get(name), object, name);
    assert.deepEqual([...current.keys()].sort(), ['ClusterRole/zonetap-sidecar', 'ClusterRoleBinding/zonetap-sidecar-shop-postgres', 'ConfigMap/zonetap-sidecar-<hash>', 'PodMonitor/zonetap-sidecar-postgres', 'Service/postgres', 'ServiceAccount/postgres', 'StatefulSet/postgres']);
    for (const line of rendered.warnings.split('\n').filter(Boolean)) assert.match(line, /^# Warning: '(bases|patchesStrategicMerge)' is deprecated\./, line);
  });

  test('every built-in object matches its API type field by field; the objects zonetap adds are labelled part-of=zonetap', () => {
    const appObjects = new Set(app.objects.map((o) => `${o.kind}/${o.metadata.name}`));
    for (const o of rendered.objects) {
      if (o.apiVersion !== 'monitoring.coreos.com/v1') {
        assert.ok(isKnownKind(o.apiVersion, o.kind), `unknown kind ${o.apiVersion} ${o.kind}`);
        assert.deepEqual(checkObject(o), [], `${o.kind}/${o.metadata.name}`);
      }
      if (!appObjects.has(`${o.kind}/${o.metadata.name}`)) assert.equal(o.metadata.labels?.['app.kubernetes.io/part-of'], 'zonetap', `${o.kind}/${o.metadata.name}`);
      if (!['ClusterRole', 'ClusterRoleBinding'].includes(o.kind)) assert.equal(o.metadata.namespace, 'shop', `${o.kind}/${o.metadata.name}: the workload's namespace`);
    }
  });

  test('kubectl apply --dry-run=client accepts it', async () => {
    const discovery = await startDiscoveryServer();
    try {
      const kubeconfig = join(work, 'kubeconfig');
      writeFileSync(kubeconfig, discovery.kubeconfig);
      const r = await run('kubectl', ['apply', '--dry-run=client', '--validate=false', '-f', '-'], { input: rendered.yaml, env: { ...process.env, KUBECONFIG: kubeconfig } });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout.trim().split('\n').filter((l) => l.endsWith(' created (dry run)')).length, rendered.objects.length, r.stdout);
      assert.match(r.stdout, /^statefulset\.apps\/postgres created \(dry run\)$/m);
    } finally {
      discovery.server.close();
    }
  });

  test('the app is unchanged but for the sidecar: a native sidecar (init container, restartPolicy Always) with its own volumes', () => {
    const before = find(app.objects, 'StatefulSet', 'postgres') as Json;
    const after = workload();
    const { initContainers, volumes, ...spec } = podSpec(after);
    assert.deepEqual(spec, podSpec(before), 'the app\'s containers, service account and pod settings are its own');
    assert.deepEqual({ ...after.spec, template: undefined }, { ...before.spec, template: undefined }, 'selector, replicas, serviceName unchanged');
    assert.deepEqual(after.spec.template.metadata, before.spec.template.metadata);
    assert.deepEqual(initContainers.map((c: Json) => [c.name, c.restartPolicy]), [['zonetap', 'Always']]);
    assert.deepEqual(volumes.map((v: Json) => v.name), ['zonetap-config', 'zonetap-tmp', 'zonetap-api-token']);
    assert.match(sidecar().image, /^registry\.example\.com\/zonetap:\S+$/);
    assert.deepEqual(sidecar().args, ['run', '--config', '/etc/zonetap/config.yaml']);
  });

  test("in the pod's own network namespace, no host access, three capabilities, nothing else", () => {
    const spec = podSpec(workload());
    for (const host of ['hostNetwork', 'hostPID', 'hostIPC', 'hostUsers']) assert.equal(spec[host], undefined, host);
    assert.ok(spec.volumes.every((v: Json) => v.hostPath === undefined), 'no host paths');
    const sc = sidecar().securityContext;
    assert.deepEqual(sc.capabilities, { drop: ['ALL'], add: ['BPF', 'NET_ADMIN', 'PERFMON'] });
    assert.deepEqual([sc.privileged, sc.allowPrivilegeEscalation, sc.readOnlyRootFilesystem, sc.runAsUser, sc.seccompProfile.type], [false, false, true, 0, 'RuntimeDefault']);
    for (const c of [...spec.containers, ...spec.initContainers.filter((c: Json) => c.name !== 'zonetap')]) assert.equal(c.securityContext?.capabilities, undefined, `${c.name} gains nothing`);
  });

  test('probes: the app waits for /startedz (the hook counts), not for the Kubernetes API; no readiness probe', () => {
    const c = sidecar();
    const telemetry = portOf(c, 'zt-telemetry');
    assert.deepEqual([c.startupProbe.httpGet.path, c.startupProbe.httpGet.port], ['/startedz', 'zt-telemetry']);
    assert.deepEqual([c.livenessProbe.httpGet.path, c.livenessProbe.httpGet.port], ['/healthz', 'zt-telemetry']);
    assert.equal(c.readinessProbe, undefined, "a sidecar's readiness is the pod's: zonetap must not take the app out of its Services");
    // The startup probe outlasts k8sattributes' sync_timeout: an unreachable API delays the app, never stops it.
    const syncSeconds = Number(/^(\d+)s$/.exec(configMap().config.processors.k8sattributes.sync_timeout)![1]);
    assert.ok(c.startupProbe.periodSeconds * c.startupProbe.failureThreshold > 2 * syncSeconds, 'startup probe budget');
    const { config } = configMap();
    assert.equal(endpointPort(config.service.telemetry.metrics.endpoint), telemetry);
    assert.equal(endpointPort(config.exporters.prometheus.endpoint), portOf(c, 'zt-metrics'));
    for (const e of [config.service.telemetry.metrics.endpoint, config.exporters.prometheus.endpoint]) assert.match(e, /^\[\$\{env:POD_IP\}\]:\d+$/, 'served on the pod IP, where the kubelet and Prometheus go');
    for (const app of podSpec(workload()).containers) for (const p of app.ports ?? []) assert.ok(![18888, 19464].includes(p.containerPort), `${app.name} uses a port of the sidecar`);
  });

  test('RBAC: get/list/watch on pods, nodes, namespaces, services, endpointslices, replicasets and jobs, bound to the workload\'s ServiceAccount; a token for the sidecar alone', () => {
    const roles = rendered.objects.filter((o) => ['Role', 'ClusterRole'].includes(o.kind)) as Json[];
    assert.deepEqual(roles.map((r) => [r.kind, r.metadata.name, r.rules]), [['ClusterRole', 'zonetap-sidecar', [
      { apiGroups: [''], resources: ['pods', 'nodes', 'namespaces', 'services'], verbs: ['get', 'list', 'watch'] },
      { apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: ['get', 'list', 'watch'] },
      { apiGroups: ['apps'], resources: ['replicasets'], verbs: ['get', 'list', 'watch'] },
      { apiGroups: ['batch'], resources: ['jobs'], verbs: ['get', 'list', 'watch'] },
    ]]]);
    const bindings = rendered.objects.filter((o) => ['RoleBinding', 'ClusterRoleBinding'].includes(o.kind)) as Json[];
    const spec = podSpec(workload());
    assert.deepEqual(bindings.map((b) => [b.roleRef.name, b.subjects]), [['zonetap-sidecar', [{ kind: 'ServiceAccount', name: spec.serviceAccountName, namespace: workload().metadata.namespace }]]]);
    assert.ok(rendered.objects.some((o) => o.kind === 'ServiceAccount' && o.metadata.name === spec.serviceAccountName), 'the workload has a ServiceAccount of its own');
    // The example app mounts no token; the sidecar mounts a projected one of its own where client libraries look.
    assert.equal(spec.automountServiceAccountToken, false);
    const mount = sidecar().volumeMounts.find((m: Json) => m.mountPath === '/var/run/secrets/kubernetes.io/serviceaccount');
    const volume = spec.volumes.find((v: Json) => v.name === mount?.name);
    assert.deepEqual(volume?.projected.sources.map((s: Json) => Object.keys(s)[0]), ['serviceAccountToken', 'configMap', 'downwardAPI']);
  });

  test('the ConfigMap is config/sidecar.yaml, valid with exactly the environment the container gets', async () => {
    const { text, config } = configMap();
    assert.equal(text, readFileSync(join(REPO, 'config', 'sidecar.yaml'), 'utf8'), 'overlays/sidecar/sidecar-config.yaml differs from config/sidecar.yaml: keep them identical');
    assert.deepEqual(config.processors.k8sattributes, { source: 'kubernetes', pod_name: '${env:POD_NAME}', pod_namespace: '${env:POD_NAMESPACE}', sync_timeout: '10s' });
    assert.deepEqual(config.receivers.netfilter.exclude_cidrs, ['127.0.0.0/8', '::1/128', '169.254.0.0/16', 'fe80::/10', '224.0.0.0/4', 'ff00::/8'], 'loopback, link-local and multicast never leave the pod\'s link');
    assert.equal(config.receivers.netfilter.netns, undefined, "the hook is in the sidecar's own network namespace: the pod's");
    const file = join(work, 'sidecar.yaml');
    writeFileSync(file, text);
    const env = { PATH: process.env.PATH, ...containerEnv({ ...workload(), spec: { template: { spec: { ...podSpec(workload()), containers: [sidecar()] } } } } as K8sObject, { fields: { 'metadata.name': 'postgres-0', 'metadata.namespace': 'shop', 'status.podIP': '10.1.0.7' }, secrets: {}, volumesDir: work }) };
    const r = await run(join(REPO, 'bin', 'zonetap'), ['validate', '--config', file], { env });
    assert.equal(r.code, 0, r.stdout + r.stderr);
  });

  test('the sidecar rows of the overlay tables in deploy/README.md and README.md say what the overlay deploys', () => {
    const flows = configMap().config.service.pipelines.flows;
    const deployed = [...flows.receivers, ...flows.processors, ...flows.exporters];
    for (const doc of [join(DEPLOY, 'README.md'), join(REPO, 'README.md')]) {
      const rows = readFileSync(doc, 'utf8').split('\n').filter((l) => /^\s*\| `sidecar` \|/.test(l));
      assert.equal(rows.length, 1, `${doc}: the sidecar row`);
      const pipeline = rows[0]!.split('|')[2]!.trim();
      assert.deepEqual(pipeline.replace(/^sidecar:/, '').split('->').map((c) => c.trim().split(/\s/)[0]), deployed, doc);
      assert.ok(pipeline.includes(`:${portOf(sidecar(), 'zt-metrics')}`), `${doc}: the metrics port`);
    }
  });

  test('the PodMonitor scrapes both sidecar ports of the workload\'s pods, flow metrics with honorLabels', () => {
    const monitor = find(rendered.objects, 'PodMonitor', 'zonetap-sidecar-postgres') as Json;
    const labels = workload().spec.template.metadata.labels;
    assert.ok(Object.entries(monitor.spec.selector.matchLabels).every(([k, v]) => labels[k] === v), 'selects the workload\'s pods');
    assert.deepEqual(monitor.spec.podMetricsEndpoints.map((e: Json) => e.port).sort(), sidecar().ports.map((p: Json) => p.name).sort());
    assert.equal(monitor.spec.podMetricsEndpoints.find((e: Json) => e.port === 'zt-metrics').honorLabels, true);
  });

  test("the sidecar's capabilities load, attach and drain in a pod's own network namespace; without any one of them loading fails", async (t) => {
    if (!requirePrivileges(t)) return;
    const netns = `zt-sidecar-caps-${process.pid}`;
    assert.equal((await run('ip', ['netns', 'add', netns])).code, 0);
    try {
      // A pod's namespace: loopback and one veth end with the pod's address, the other end outside.
      assert.equal((await run('ip', ['-n', netns, 'link', 'set', 'lo', 'up'])).code, 0);
      assert.equal((await run('ip', ['-n', netns, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'host0'])).code, 0);
      assert.equal((await run('ip', ['-n', netns, 'addr', 'add', '10.1.0.7/32', 'dev', 'eth0'])).code, 0);
      await assertExactlyNeeded(netns, sidecar().securityContext.capabilities.add, 'the sidecar');
    } finally {
      await run('ip', ['netns', 'del', netns]);
    }
  });
});
