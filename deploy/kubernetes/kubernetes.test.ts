/**
 * deploy/kubernetes: the kustomize base and overlays render, match the Kubernetes API types,
 * pass `kubectl apply --dry-run=client`, grant least privilege, and carry valid zonetap configs
 * that agree with the ports and Services. pods.test.ts runs the pods on the real kernel.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { checkObject, isKnownKind } from '../../test/support/k8s-schema.ts';
import { startDiscoveryServer } from '../../test/support/kube-discovery.ts';
import { agentOf, configOf as configIn, container, containerPort, DEPLOY, endpointPort as port, find, podSpec, renderAll } from '../../test/support/manifests.ts';
import type { Json, K8sObject, Rendered, Variant } from '../../test/support/manifests.ts';
import { REPO, run } from '../../test/support/processes.ts';

const work = mkdtempSync(join(tmpdir(), 'zt-deploy-k8s-'));
after(() => rmSync(work, { recursive: true, force: true }));

let rendered: Rendered;
before(async () => {
  rendered = await renderAll();
});
const agent = (v: Variant) => agentOf(rendered, v);
const configOf = (v: Variant, workload: K8sObject) => configIn(rendered, v, workload);

describe('Kubernetes manifests (deploy/kubernetes)', () => {
  test('kustomize renders the base and both overlays, everything in namespace zonetap', () => {
    for (const [variant, { objects }] of Object.entries(rendered)) {
      assert.ok(objects.length >= 8, `${variant}: ${objects.length} objects`);
      for (const o of objects) {
        if (['Namespace', 'ClusterRole', 'ClusterRoleBinding'].includes(o.kind)) continue;
        assert.equal(o.metadata.namespace, 'zonetap', `${variant}: ${o.kind}/${o.metadata.name}`);
      }
    }
    assert.ok(rendered.gateway.objects.some((o) => o.kind === 'Deployment' && o.metadata.name === 'zonetap-gateway'));
    assert.ok(!rendered['agent-only'].objects.some((o) => o.metadata.name.startsWith('zonetap-gateway')));
  });

  test('every built-in object matches its API type field by field (@kubernetes/client-node models)', () => {
    for (const [variant, { objects }] of Object.entries(rendered)) {
      for (const o of objects) {
        if (o.apiVersion === 'monitoring.coreos.com/v1') continue; // CRDs: checked below
        assert.ok(isKnownKind(o.apiVersion, o.kind), `${variant}: unknown kind ${o.apiVersion} ${o.kind}`);
        assert.deepEqual(checkObject(o), [], `${variant}: ${o.kind}/${o.metadata.name}`);
      }
    }
    // The checker is strict: a misspelt field is caught.
    const typo = structuredClone(agent('agent-only')) as Json;
    typo.spec.template.spec.containers[0].securityContext.readOnlyRootFileSystem = true;
    assert.match(checkObject(typo).join('\n'), /readOnlyRootFileSystem: unknown field of V1SecurityContext/);
  });

  test('kubectl apply --dry-run=client accepts each overlay', async () => {
    const discovery = await startDiscoveryServer();
    try {
      const kubeconfig = join(work, 'kubeconfig');
      writeFileSync(kubeconfig, discovery.kubeconfig);
      for (const variant of ['agent-only', 'gateway'] as const) {
        const r = await run('kubectl', ['apply', '--dry-run=client', '--validate=false', '-f', '-'], { input: rendered[variant].yaml, env: { ...process.env, KUBECONFIG: kubeconfig } });
        assert.equal(r.code, 0, `${variant}: ${r.stderr}`);
        const created = r.stdout.trim().split('\n').filter((l) => l.endsWith(' created (dry run)'));
        assert.equal(created.length, rendered[variant].objects.length, r.stdout);
        assert.match(r.stdout, /^daemonset\.apps\/zonetap-agent created \(dry run\)$/m);
      }
    } finally {
      discovery.server.close();
    }
  });

  test('the agent gets the least privilege that works: three capabilities, not privileged', () => {
    for (const variant of ['agent-only', 'gateway'] as const) {
      const ds = agent(variant);
      const spec = podSpec(ds);
      const c = container(ds);
      assert.equal(spec.hostNetwork, true, 'the hook must be in the node network namespace');
      assert.equal(spec.hostPID, undefined);
      assert.equal(spec.hostIPC, undefined);
      assert.deepEqual(spec.tolerations, [{ operator: 'Exists' }], 'run on every node');
      assert.equal(spec.securityContext.seccompProfile.type, 'RuntimeDefault');
      assert.equal(c.securityContext.privileged, false);
      assert.equal(c.securityContext.allowPrivilegeEscalation, false);
      assert.equal(c.securityContext.readOnlyRootFilesystem, true);
      assert.equal(c.securityContext.runAsUser, 0);
      assert.deepEqual(c.securityContext.capabilities, { drop: ['ALL'], add: ['BPF', 'NET_ADMIN', 'PERFMON'] });
      assert.ok(spec.volumes.every((v: Json) => v.hostPath === undefined), 'no host paths');
      assert.deepEqual(c.env.find((e: Json) => e.name === 'NODE_NAME').valueFrom, { fieldRef: { fieldPath: 'spec.nodeName' } });
    }
  });

  test('RBAC: get/list/watch on pods, nodes, replicasets and jobs, for the agent only', () => {
    for (const variant of ['agent-only', 'gateway'] as const) {
      const objects = rendered[variant].objects;
      const roles = objects.filter((o) => o.kind === 'ClusterRole' || o.kind === 'Role');
      assert.deepEqual(roles.map((r) => r.metadata.name), ['zonetap-agent']);
      assert.deepEqual((roles[0] as Json).rules, [
        { apiGroups: [''], resources: ['pods', 'nodes'], verbs: ['get', 'list', 'watch'] },
        { apiGroups: ['apps'], resources: ['replicasets'], verbs: ['get', 'list', 'watch'] },
        { apiGroups: ['batch'], resources: ['jobs'], verbs: ['get', 'list', 'watch'] },
      ]);
      const bindings = objects.filter((o) => o.kind === 'ClusterRoleBinding' || o.kind === 'RoleBinding') as Json[];
      assert.deepEqual(bindings.map((b) => b.subjects), [[{ kind: 'ServiceAccount', name: 'zonetap-agent', namespace: 'zonetap' }]]);
      assert.equal(podSpec(agent(variant)).serviceAccountName, 'zonetap-agent');
    }
    const gateway = find(rendered.gateway.objects, 'Deployment', 'zonetap-gateway');
    assert.equal(podSpec(gateway).automountServiceAccountToken, false, 'the gateway never talks to the API server');
  });

  test('every container has requests, limits and health probes on the telemetry port', () => {
    for (const variant of ['agent-only', 'gateway'] as const) {
      for (const w of rendered[variant].objects.filter((o) => o.kind === 'DaemonSet' || o.kind === 'Deployment')) {
        const c = container(w);
        for (const k of ['requests', 'limits']) for (const r of ['cpu', 'memory']) assert.ok(c.resources[k]?.[r], `${w.metadata.name}: ${k}.${r}`);
        assert.equal(c.livenessProbe.httpGet.path, '/healthz');
        assert.equal(c.readinessProbe.httpGet.path, '/readyz');
        assert.equal(c.livenessProbe.httpGet.port, 'telemetry');
        assert.equal(containerPort(c, 'telemetry'), 8888);
        assert.deepEqual(c.args, ['run', '--config', '/etc/zonetap/config.yaml']);
        assert.match(c.image, /^registry\.example\.com\/zonetap:\S+$/);
      }
    }
  });

  test('gateway overlay: one gateway per zone, agents kept in their zone, gateway unprivileged', () => {
    const objects = rendered.gateway.objects;
    const gateway = find(objects, 'Deployment', 'zonetap-gateway') as Json;
    const spread = podSpec(gateway).topologySpreadConstraints.find((t: Json) => t.topologyKey === 'topology.kubernetes.io/zone');
    assert.deepEqual([spread.maxSkew, spread.whenUnsatisfiable], [1, 'DoNotSchedule']);
    assert.equal(gateway.spec.strategy.rollingUpdate.maxUnavailable, 0, 'a zone is never left without a gateway during a rollout');
    const service = find(objects, 'Service', 'zonetap-gateway') as Json;
    assert.equal(service.spec.trafficDistribution, 'PreferClose');
    assert.deepEqual(service.spec.selector, gateway.spec.selector.matchLabels);
    const c = container(gateway);
    assert.equal(podSpec(gateway).securityContext.runAsNonRoot, true);
    assert.deepEqual(c.securityContext.capabilities, { drop: ['ALL'] });
    assert.equal(c.securityContext.readOnlyRootFilesystem, true);
    assert.ok(objects.some((o) => o.kind === 'PodDisruptionBudget'));
  });

  test('configs are valid zonetap configs (zonetap validate) and agree with ports and Services', async () => {
    const shapes: [Variant, K8sObject, string[], string[]][] = [
      ['agent-only', agent('agent-only'), ['netfilter'], ['prometheus']],
      ['gateway', agent('gateway'), ['netfilter'], ['otlp']],
      ['gateway', find(rendered.gateway.objects, 'Deployment', 'zonetap-gateway'), ['otlp'], ['prometheus']],
    ];
    const validations = shapes.map(([variant, workload]) => {
      const file = join(work, `${variant}-${workload.metadata.name}.yaml`);
      writeFileSync(file, configOf(variant, workload).text);
      return run(join(REPO, 'bin', 'zonetap'), ['validate', '--config', file], { env: { ...process.env, NODE_NAME: 'node-a' } });
    });
    for (const [i, [variant, workload, receivers, exporters]] of shapes.entries()) {
      const where = `${variant} ${workload.metadata.name}`;
      const r = await validations[i]!;
      assert.equal(r.code, 0, `${where}: ${r.stdout}${r.stderr}`);
      const { config } = configOf(variant, workload);
      assert.deepEqual(config.service.pipelines.flows.receivers, receivers, where);
      assert.deepEqual(config.service.pipelines.flows.exporters, exporters, where);
      const c = container(workload);
      assert.equal(port(config.service.telemetry.metrics.endpoint), containerPort(c, 'telemetry'), where);
      if (config.exporters.prometheus) assert.equal(port(config.exporters.prometheus.endpoint), containerPort(c, 'metrics'), where);
      if (config.receivers.netfilter) assert.equal(config.processors.k8sattributes.node_name, '${env:NODE_NAME}', where);
      if (config.receivers.otlp) assert.equal(port(config.receivers.otlp.protocols.grpc.endpoint), containerPort(c, 'otlp-grpc'), where);
      if (config.exporters.otlp) {
        const service = find(rendered.gateway.objects, 'Service', 'zonetap-gateway') as Json;
        const svcPort = service.spec.ports.find((p: Json) => p.name === 'otlp-grpc').port;
        assert.equal(config.exporters.otlp.endpoint, `${service.metadata.name}.${service.metadata.namespace}.svc:${svcPort}`, where);
      }
    }
  });

  test('config/agent.yaml and config/gateway.yaml are the configs the gateway overlay deploys', () => {
    for (const [ready, deployed] of [['agent.yaml', 'agent.yaml'], ['gateway.yaml', 'gateway-config.yaml']]) {
      assert.equal(
        readFileSync(join(REPO, 'config', ready!), 'utf8'),
        readFileSync(join(DEPLOY, 'kubernetes', 'overlays', 'gateway', deployed!), 'utf8'),
        `config/${ready} differs from deploy/kubernetes/overlays/gateway/${deployed}: keep them identical`,
      );
    }
  });

  test('ServiceMonitors scrape named ports of their Services; job names match the alert rules', () => {
    const rules = find(rendered.gateway.objects, 'PrometheusRule', 'zonetap') as Json;
    const exprs = JSON.stringify(rules.spec.groups);
    for (const variant of ['agent-only', 'gateway'] as const) {
      const objects = rendered[variant].objects;
      for (const monitor of objects.filter((o) => o.kind === 'ServiceMonitor') as Json[]) {
        const service = objects.find((o) => o.kind === 'Service' && o.metadata.name === monitor.metadata.name) as Json;
        assert.ok(service, `${variant}: ServiceMonitor ${monitor.metadata.name} has no Service of the same name (job label)`);
        for (const [k, v] of Object.entries(monitor.spec.selector.matchLabels)) assert.equal(service.metadata.labels[k], v);
        const names = service.spec.ports.map((p: Json) => p.name);
        for (const e of monitor.spec.endpoints) assert.ok(names.includes(e.port), `${variant}: ${monitor.metadata.name} scrapes ${e.port}`);
        assert.ok(exprs.includes(`job=\\"${service.metadata.name}\\"`), `no alert watches job ${service.metadata.name}`);
      }
    }
    const ports = (v: Variant) => (find(rendered[v].objects, 'ServiceMonitor', 'zonetap-agent') as Json).spec.endpoints.map((e: Json) => e.port);
    assert.deepEqual(ports('agent-only'), ['telemetry', 'metrics'], 'agent-only: agents serve the flow metrics');
    assert.deepEqual(ports('gateway'), ['telemetry'], 'gateway mode: agents serve no flow metrics');
  });
});
