/**
 * deploy/kubernetes: the kustomize base and overlays render, match the Kubernetes API types,
 * pass `kubectl apply --dry-run=client`, grant least privilege, and carry valid zonetap configs
 * that agree with the ports and Services. pods.test.ts runs the pods on the real kernel.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { checkObject, isKnownKind } from '../../test/support/k8s-schema.ts';
import { startDiscoveryServer } from '../../test/support/kube-discovery.ts';
import { DEFAULT_MAX_SERIES } from '../../exporters/prometheus/config.ts';
import { parseDuration } from '../../pipeline/schema.ts';
import { agentOf, configOf as configIn, container, containerPort, DEPLOY, endpointPort as port, find, KUBECTL_1_20, kustomize, objectsByName, podSpec, renderAll } from '../../test/support/manifests.ts';
import type { Json, K8sObject, Rendered, Variant } from '../../test/support/manifests.ts';
import { containerEnv } from '../../test/support/pod-env.ts';
import { REPO, run } from '../../test/support/processes.ts';

const work = mkdtempSync(join(tmpdir(), 'zt-deploy-k8s-'));
after(() => rmSync(work, { recursive: true, force: true }));

let rendered: Rendered;
before(async () => {
  rendered = await renderAll();
});
const workloads = (v: Variant) => rendered[v].objects.filter((o) => ['DaemonSet', 'Deployment', 'Job'].includes(o.kind));
/** What the kubelet would give the pods, for running their configs here. */
const facts = () => ({
  fields: { 'spec.nodeName': 'node-a', 'status.podIP': '10.0.0.3', 'metadata.namespace': 'zonetap' },
  secrets: { 'zonetap-otlp-token': { token: 'test-token' } },
  volumesDir: join(work, 'volumes'),
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

  test("kubectl 1.20's kustomize (Debian 12's kubernetes-client) builds the same objects as the current kubectl", async () => {
    assert.ok(existsSync(KUBECTL_1_20), `${KUBECTL_1_20} is missing: run scripts/setup.sh`);
    const old = await renderAll(KUBECTL_1_20);
    for (const variant of Object.keys(rendered) as Variant[]) {
      const current = objectsByName(rendered[variant].yaml);
      const older = objectsByName(old[variant].yaml);
      assert.deepEqual([...older.keys()].sort(), [...current.keys()].sort(), variant);
      for (const [name, object] of current) assert.deepEqual(older.get(name), object, `${variant}: ${name}`);
      // What the current kubectl says about the kustomizations: only the deprecations that
      // kubectl 1.20 needs (deploy/README.md, "kubectl versions"), nothing else.
      for (const line of rendered[variant].warnings.split('\n').filter(Boolean)) {
        assert.match(line, /^# Warning: '(bases|patchesStrategicMerge)' is deprecated\./, `${variant}: ${line}`);
      }
    }
  });

  test('every object is labelled app.kubernetes.io/part-of=zonetap (kubectl get/delete -l)', () => {
    for (const [variant, { objects }] of Object.entries(rendered)) {
      for (const o of objects) assert.equal(o.metadata.labels?.['app.kubernetes.io/part-of'], 'zonetap', `${variant}: ${o.kind}/${o.metadata.name}`);
    }
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

  test('RBAC: get/list/watch on pods, nodes, namespaces, services, endpointslices, replicasets and jobs for the agent; create secrets for the token Job', () => {
    for (const variant of ['agent-only', 'gateway'] as const) {
      const objects = rendered[variant].objects;
      const clusterRoles = objects.filter((o) => o.kind === 'ClusterRole');
      assert.deepEqual(clusterRoles.map((r) => r.metadata.name), ['zonetap-agent']);
      assert.deepEqual((clusterRoles[0] as Json).rules, [
        { apiGroups: [''], resources: ['pods', 'nodes', 'namespaces', 'services'], verbs: ['get', 'list', 'watch'] },
      { apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: ['get', 'list', 'watch'] },
        { apiGroups: ['apps'], resources: ['replicasets'], verbs: ['get', 'list', 'watch'] },
        { apiGroups: ['batch'], resources: ['jobs'], verbs: ['get', 'list', 'watch'] },
      ]);
      const clusterBindings = objects.filter((o) => o.kind === 'ClusterRoleBinding') as Json[];
      assert.deepEqual(clusterBindings.map((b) => b.subjects), [[{ kind: 'ServiceAccount', name: 'zonetap-agent', namespace: 'zonetap' }]]);
      assert.equal(podSpec(agent(variant)).serviceAccountName, 'zonetap-agent');
      // The only namespaced Role: the token Job's, which may create Secrets and nothing else
      // (no get, list or update: it can neither read nor replace any Secret).
      const roles = objects.filter((o) => o.kind === 'Role') as Json[];
      const bindings = objects.filter((o) => o.kind === 'RoleBinding') as Json[];
      if (variant === 'agent-only') {
        assert.deepEqual([...roles, ...bindings], []);
        continue;
      }
      assert.deepEqual(roles.map((r) => [r.metadata.name, r.rules]), [['zonetap-otlp-token', [{ apiGroups: [''], resources: ['secrets'], verbs: ['create'] }]]]);
      assert.deepEqual(bindings.map((b) => [b.roleRef, b.subjects]), [[
        { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'zonetap-otlp-token' },
        [{ kind: 'ServiceAccount', name: 'zonetap-otlp-token', namespace: 'zonetap' }],
      ]]);
      assert.equal(podSpec(find(objects, 'Job', 'zonetap-otlp-token')).serviceAccountName, 'zonetap-otlp-token');
    }
    const gateway = find(rendered.gateway.objects, 'Deployment', 'zonetap-gateway');
    assert.equal(podSpec(gateway).automountServiceAccountToken, false, 'the gateway never talks to the API server');
  });

  test('every container has requests, limits and the zonetap image; servers have health probes on the telemetry port', () => {
    for (const variant of ['agent-only', 'gateway'] as const) {
      for (const w of workloads(variant)) {
        const c = container(w);
        for (const k of ['requests', 'limits']) for (const r of ['cpu', 'memory']) assert.ok(c.resources[k]?.[r], `${w.metadata.name}: ${k}.${r}`);
        assert.match(c.image, /^registry\.example\.com\/zonetap:\S+$/);
        if (w.kind === 'Job') continue;
        assert.equal(c.livenessProbe.httpGet.path, '/healthz');
        assert.equal(c.readinessProbe.httpGet.path, '/readyz');
        assert.equal(c.livenessProbe.httpGet.port, 'telemetry');
        assert.equal(containerPort(c, 'telemetry'), 8888);
        assert.deepEqual(c.args.slice(0, 3), ['run', '--config', '/etc/zonetap/config.yaml']);
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
    // SIGTERM: the gateway waits for Prometheus to scrape its last counts (two 30 s intervals), so
    // Prometheus must still find it (a Service that keeps terminating pods) and Kubernetes must wait.
    const scraped = find(objects, 'Service', 'zonetap-gateway-metrics') as Json;
    assert.equal(scraped.spec.publishNotReadyAddresses, true);
    assert.deepEqual(scraped.spec.selector, gateway.spec.selector.matchLabels);
    const timeout = c.args[c.args.indexOf('--shutdown-timeout') + 1];
    assert.equal(timeout, '75s');
    assert.ok(podSpec(gateway).terminationGracePeriodSeconds > 75, 'the kubelet waits longer than zonetap');
  });

  test("the gateway runs with V8's defaults (TurboFan), agents with bin/zonetap's lean default (--max-opt=2)", () => {
    const v8Flags = (o: Json) => container(o).env?.find((e: Json) => e.name === 'ZONETAP_V8_FLAGS')?.value;
    assert.equal(v8Flags(find(rendered.gateway.objects, 'Deployment', 'zonetap-gateway') as Json), '', 'the gateway is bound by CPU (bin/zonetap)');
    for (const v of ['agent-only', 'gateway'] as const) assert.equal(v8Flags(agent(v)), undefined, `${v}: the agent keeps bin/zonetap's default`);
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
      // Exactly the environment the container gets: a variable the config uses and the
      // manifest does not set fails here.
      const env = { PATH: process.env.PATH, ...containerEnv(workload, facts()) };
      return run(join(REPO, 'bin', 'zonetap'), ['validate', '--config', file], { env });
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
      if (config.receivers.otlp) {
        assert.equal(port(config.receivers.otlp.protocols.grpc.endpoint), containerPort(c, 'otlp-grpc'), where);
        assert.equal(port(config.receivers.otlp.protocols.http.endpoint), containerPort(c, 'otlp-http'), where);
      }
      if (config.exporters.otlp) {
        // The agents send OTLP/HTTP (config/agent.yaml: no http2 or grpc-js in every agent).
        assert.equal(config.exporters.otlp.protocol, 'http/protobuf', where);
        const service = find(rendered.gateway.objects, 'Service', 'zonetap-gateway') as Json;
        const svcPort = service.spec.ports.find((p: Json) => p.name === 'otlp-http').port;
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
        const selects = (o: Json) => o.kind === 'Service' && Object.entries(monitor.spec.selector.matchLabels).every(([k, v]) => o.metadata.labels?.[k] === v);
        const services = objects.filter((o) => selects(o as Json)) as Json[];
        assert.equal(services.length, 1, `${variant}: ServiceMonitor ${monitor.metadata.name} selects ${services.length} Services`);
        const service = services[0]!;
        // The job label is the Service's name, or the value of its label named by jobLabel.
        const job = monitor.spec.jobLabel ? service.metadata.labels[monitor.spec.jobLabel] : service.metadata.name;
        const names = service.spec.ports.map((p: Json) => p.name);
        for (const e of monitor.spec.endpoints) assert.ok(names.includes(e.port), `${variant}: ${monitor.metadata.name} scrapes ${e.port}`);
        assert.ok(exprs.includes(`job=\\"${job}\\"`), `no alert watches job ${job}`);
      }
    }
    const agentPorts = (v: Variant) => rendered[v].objects.filter((o) => o.kind === 'ServiceMonitor' && o.metadata.name.startsWith('zonetap-agent')).flatMap((m) => (m as Json).spec.endpoints.map((e: Json) => e.port));
    assert.deepEqual(agentPorts('agent-only').sort(), ['metrics', 'telemetry'], 'agent-only: agents serve the flow metrics');
    assert.deepEqual(agentPorts('gateway'), ['telemetry'], 'gateway mode: agents serve no flow metrics');
  });

  test('agents serve 8888 and 9464 on their pod IP only, not on every address of the node', () => {
    for (const variant of ['agent-only', 'gateway'] as const) {
      const ds = agent(variant);
      assert.equal(podSpec(ds).hostNetwork, true);
      assert.deepEqual(container(ds).env.find((e: Json) => e.name === 'POD_IP')?.valueFrom, { fieldRef: { fieldPath: 'status.podIP' } }, variant);
      const { config } = configOf(variant, ds);
      const endpoints = [config.service.telemetry.metrics.endpoint, config.exporters.prometheus?.endpoint].filter(Boolean);
      for (const e of endpoints) assert.match(e, /^\[\$\{env:POD_IP\}\]:\d+$/, `${variant}: ${e}`);
      // The probes and Prometheus reach the pod IP: the probes name no other host.
      for (const probe of [container(ds).livenessProbe, container(ds).readinessProbe]) assert.equal(probe.httpGet.host, undefined);
    }
  });

  test('the flow metrics are scraped with honorLabels (kubezonnet\'s namespace, pod) and a timeout that fits the scrape cost', () => {
    // The documented cost of one scrape at the default max_series (exporters/prometheus/README.md, "Cost").
    const readme = readFileSync(join(REPO, 'exporters', 'prometheus', 'README.md'), 'utf8');
    const rows = readme.split('\n').filter((l) => l.startsWith('|')).map((l) => l.split('|').slice(1, -1).map((c) => c.trim()));
    const header = rows.find((r) => r.includes('scrape, zonetap'));
    assert.ok(header, 'exporters/prometheus/README.md has no "scrape, zonetap" column');
    const row = rows.find((r) => Number(r[0]!.replaceAll(',', '')) === DEFAULT_MAX_SERIES);
    assert.ok(row, `exporters/prometheus/README.md gives no scrape time for ${DEFAULT_MAX_SERIES} label sets (max_series)`);
    const scrapeSeconds = Number(/^([\d.]+) s$/.exec(row[header.indexOf('scrape, zonetap')]!)?.[1]);
    assert.ok(scrapeSeconds > 0, `unreadable scrape time: ${row.join(' | ')}`);
    const flowEndpoints = (['agent-only', 'gateway'] as const).flatMap((v) =>
      rendered[v].objects.filter((o) => o.kind === 'ServiceMonitor').flatMap((m) => (m as Json).spec.endpoints.filter((e: Json) => e.port === 'metrics').map((e: Json) => ({ where: `${v} ${m.metadata.name}`, e }))),
    );
    assert.deepEqual(flowEndpoints.map((f) => f.where), ['agent-only zonetap-agent-flows', 'gateway zonetap-gateway']);
    for (const { where, e } of flowEndpoints) {
      assert.equal(e.honorLabels, true, `${where}: without honorLabels Prometheus renames namespace and pod to exported_namespace and exported_pod`);
      const timeout = parseDuration(e.scrapeTimeout ?? '10s')! / 1000;
      assert.ok(timeout >= 3 * scrapeSeconds, `${where}: scrapeTimeout ${timeout}s for a ${scrapeSeconds}s scrape`);
      assert.ok(timeout <= parseDuration(e.interval)! / 1000, `${where}: the timeout must not exceed the interval`);
    }
  });

  test('gateway overlay: the gateway admits only agents with the token that the Job makes', () => {
    const objects = rendered.gateway.objects;
    const job = find(objects, 'Job', 'zonetap-otlp-token') as Json;
    const args = container(job).args as string[];
    const secretName = args[args.indexOf('--name') + 1];
    assert.equal(secretName, 'zonetap-otlp-token');
    assert.ok(!objects.some((o) => o.kind === 'Secret'), 'the token is generated in the cluster, never shipped');
    // The gateway reads the token file from the Secret's volume.
    const gateway = find(objects, 'Deployment', 'zonetap-gateway');
    const gatewayConfig = configOf('gateway', gateway).config;
    const tokenFile = /^\$\{env:(\w+)\}$/.exec(gatewayConfig.receivers.otlp.protocols.grpc.auth?.bearer_token_file ?? '')?.[1];
    assert.ok(tokenFile, 'receivers::otlp::protocols::grpc::auth::bearer_token_file is not set from the environment');
    const path = container(gateway).env.find((e: Json) => e.name === tokenFile)?.value as string;
    const mount = container(gateway).volumeMounts.find((m: Json) => path?.startsWith(`${m.mountPath}/`));
    assert.ok(mount, `${tokenFile}=${path} is in no volume`);
    const volume = podSpec(gateway).volumes.find((v: Json) => v.name === mount.name);
    assert.deepEqual([volume.secret?.secretName, path.slice(mount.mountPath.length + 1)], [secretName, 'token']);
    assert.equal(volume.secret.optional, undefined, 'the gateway must not start without the token');
    // The agent sends it.
    const ds = agent('gateway');
    const headers = configOf('gateway', ds).config.exporters.otlp.headers ?? {};
    const variable = /^Bearer \$\{env:(\w+)\}$/.exec(headers.authorization ?? '')?.[1];
    assert.ok(variable, `the agent sends no bearer token: ${JSON.stringify(headers)}`);
    assert.deepEqual(container(ds).env.find((e: Json) => e.name === variable)?.valueFrom, { secretKeyRef: { name: secretName, key: 'token' } });
    // Both read what the Job writes: the rendered environments resolve to the same token.
    const f = facts();
    const agentEnv = containerEnv(ds, f);
    const gatewayEnv = containerEnv(gateway, f);
    assert.equal(agentEnv[variable], 'test-token');
    assert.equal(readFileSync(gatewayEnv[tokenFile]!, 'utf8'), 'test-token');
    // The Job runs unprivileged, with the zonetap image.
    const c = container(job);
    assert.equal(podSpec(job).securityContext.runAsNonRoot, true);
    assert.deepEqual(c.securityContext.capabilities, { drop: ['ALL'] });
    assert.equal(c.securityContext.readOnlyRootFilesystem, true);
    assert.equal(c.image, container(gateway).image);
  });

  test('NetworkPolicy: the gateway takes OTLP from node addresses and metrics from the monitoring namespace, nothing else', () => {
    const objects = rendered.gateway.objects;
    const policies = objects.filter((o) => o.kind === 'NetworkPolicy') as Json[];
    assert.deepEqual(policies.map((p) => p.metadata.name), ['zonetap-gateway']);
    const [policy] = policies;
    const gateway = find(objects, 'Deployment', 'zonetap-gateway') as Json;
    assert.deepEqual(policy.spec.podSelector.matchLabels, gateway.spec.template.metadata.labels);
    assert.deepEqual(policy.spec.policyTypes, ['Ingress']);
    const portsOf = (rule: Json) => rule.ports.map((p: Json) => containerPort(container(gateway), p.port));
    const rules = policy.spec.ingress as Json[];
    for (const rule of rules) assert.ok((rule.from ?? []).length > 0, `a rule without "from" admits everyone: ${JSON.stringify(rule)}`);
    assert.deepEqual(rules.map(portsOf), [[4318, 4317], [9464, 8888]]);
    assert.deepEqual(rules.flatMap(portsOf).sort(), container(gateway).ports.map((p: Json) => p.containerPort).sort(), 'every port the gateway serves has a rule');
    // OTLP: hostNetwork agents connect from node addresses, private ranges by default.
    assert.ok(rules[0].from.every((peer: Json) => Object.keys(peer).join() === 'ipBlock'), JSON.stringify(rules[0].from));
    assert.ok(!rules[0].from.some((peer: Json) => ['0.0.0.0/0', '::/0'].includes(peer.ipBlock.cidr)), 'the internet must not reach 4317 or 4318');
    // Metrics and telemetry: Prometheus' namespace only.
    assert.deepEqual(rules[1].from, [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } }]);
    // No policy selects a hostNetwork pod: NetworkPolicy is not enforced there by common CNIs,
    // so the agents bind to their pod IP instead (deploy/README.md, "Network policies").
    for (const variant of ['agent-only', 'gateway'] as const) {
      for (const p of rendered[variant].objects.filter((o) => o.kind === 'NetworkPolicy') as Json[]) {
        for (const w of workloads(variant).filter((w) => podSpec(w).hostNetwork)) {
          const labels = (w as Json).spec.template.metadata.labels;
          assert.ok(!Object.entries(p.spec.podSelector.matchLabels ?? {}).every(([k, v]) => labels[k] === v), `${p.metadata.name} selects ${w.metadata.name}`);
        }
      }
    }
  });

  test('the pipeline tables in deploy/README.md and README.md say what the overlays deploy', () => {
    const deployed: Record<string, Record<string, string[]>> = {};
    for (const variant of ['agent-only', 'gateway'] as const) {
      deployed[variant] = {};
      for (const w of workloads(variant).filter((w) => w.kind !== 'Job')) {
        const flows = configOf(variant, w).config.service.pipelines.flows;
        deployed[variant][w.kind === 'DaemonSet' ? 'agent' : 'gateway'] = [...flows.receivers, ...(flows.processors ?? []), ...flows.exporters];
      }
    }
    for (const doc of [join(DEPLOY, 'README.md'), join(REPO, 'README.md')]) {
      const rows = readFileSync(doc, 'utf8').split('\n').filter((l) => /^\s*\| `(agent-only|gateway)` \|/.test(l));
      assert.equal(rows.length, 2, `${doc}: the overlay table`);
      for (const row of rows) {
        const [overlay, pipeline] = row.split('|').slice(1, 3).map((c) => c.trim());
        // "agent: netfilter -> k8sattributes -> aggregate (by pod) -> otlp; gateway: otlp -> ..."
        const documented = Object.fromEntries(pipeline!.split(';').map((part) => {
          const [role, chain] = part.split(':').map((x) => x.trim());
          return [role, chain!.split('->').map((c) => c.trim().split(/\s/)[0]!)];
        }));
        assert.deepEqual(documented, deployed[overlay!.replaceAll('`', '')], `${doc}: ${overlay}`);
      }
    }
  });

  test("deploy/README.md's own-overlay example builds with kubectl 1.20 and the current one: it sets the image and replaces the config", async () => {
    const readme = readFileSync(join(DEPLOY, 'README.md'), 'utf8');
    const example = /```yaml\n(# my-zonetap\/kustomization\.yaml[^\n]*\n[\s\S]*?)```/.exec(readme)?.[1];
    assert.ok(example, 'deploy/README.md: no my-zonetap/kustomization.yaml example');
    const dir = join(work, 'my-zonetap');
    mkdirSync(dir, { recursive: true });
    // "beside a checkout of zonetap": ../zonetap is this repository.
    symlinkSync(REPO, join(work, 'zonetap'));
    writeFileSync(join(dir, 'kustomization.yaml'), example);
    const myConfig = readFileSync(join(DEPLOY, 'kubernetes', 'overlays', 'gateway', 'gateway-config.yaml'), 'utf8').replace('provider: aws', 'provider: gcp');
    writeFileSync(join(dir, 'gateway-config.yaml'), myConfig);
    const image = /newName: (\S+)\n\s*newTag: (\S+)/.exec(example)!;
    for (const kubectl of ['kubectl', KUBECTL_1_20]) {
      const { objects } = await kustomize(dir, kubectl);
      for (const w of objects.filter((o) => ['DaemonSet', 'Deployment', 'Job'].includes(o.kind))) assert.equal(container(w).image, `${image[1]}:${image[2]}`, `${kubectl}: ${w.metadata.name}`);
      const gateway = find(objects, 'Deployment', 'zonetap-gateway');
      const name = podSpec(gateway).volumes.find((v: Json) => v.name === 'config').configMap.name;
      assert.equal((find(objects, 'ConfigMap', name) as Json).data['config.yaml'], myConfig, `${kubectl}: the gateway mounts the replaced config`);
    }
  });
});
