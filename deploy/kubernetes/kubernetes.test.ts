/**
 * deploy/kubernetes: the kustomize base and overlays render, match the Kubernetes API types,
 * pass `kubectl apply --dry-run=client`, grant least privilege, carry valid zonetap configs,
 * and the agent's capability set is exactly what the real eBPF program needs on this kernel.
 */
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { parse } from 'yaml';
import { requirePrivileges } from '../../test/privileges.ts';
import { checkObject, isKnownKind } from '../testing/k8s-schema.ts';
import { startDiscoveryServer } from '../testing/kube-discovery.ts';
import { DEPLOY, REPO, find, kustomize, run } from '../testing/tools.ts';
import type { K8sObject } from '../testing/tools.ts';

const DIRS = { base: 'base', 'agent-only': 'overlays/agent-only', gateway: 'overlays/gateway' } as const;
type Variant = keyof typeof DIRS;
const rendered = {} as Record<Variant, { yaml: string; objects: K8sObject[] }>;

const work = mkdtempSync(join(tmpdir(), 'zt-deploy-k8s-'));
after(() => rmSync(work, { recursive: true, force: true }));

before(async () => {
  for (const [variant, dir] of Object.entries(DIRS)) rendered[variant as Variant] = await kustomize(join(DEPLOY, 'kubernetes', dir));
});

// The objects are checked field by field against the API types (k8s-schema.ts); the assertions
// below read them loosely.
type Json = any;
const podSpec = (o: K8sObject): Json => (o as Json).spec.template.spec;
const container = (o: K8sObject): Json => podSpec(o).containers[0];
const agent = (v: Variant) => find(rendered[v].objects, 'DaemonSet', 'zonetap-agent');
const configOf = (v: Variant, workload: K8sObject): { text: string; config: Json } => {
  const name = podSpec(workload).volumes.find((vol: Json) => vol.name === 'config').configMap.name;
  const text = (find(rendered[v].objects, 'ConfigMap', name) as Json).data['config.yaml'] as string;
  return { text, config: parse(text) };
};
const port = (endpoint: string) => Number(endpoint.split(':').at(-1));
const containerPort = (c: Json, name: string) => c.ports.find((p: Json) => p.name === name)?.containerPort;

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

describe("the agent's capabilities on a real kernel", () => {
  const netns = `zt-deploy-${process.pid}`;
  const children: ChildProcess[] = [];
  after(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await run('ip', ['netns', 'del', netns]);
    rmSync(join('/etc/netns', netns), { recursive: true, force: true });
  });

  async function ensureNetns(): Promise<void> {
    if ((await run('ip', ['netns', 'exec', netns, 'true'])).code === 0) return;
    const created = await run('ip', ['netns', 'add', netns]);
    assert.equal(created.code, 0, created.stderr);
    assert.equal((await run('ip', ['-n', netns, 'link', 'set', 'lo', 'up'])).code, 0);
  }

  /** `ip netns exec NETNS capsh ...`: runs the rest of the arguments as root holding only `keep` (Kubernetes names, e.g. BPF). */
  async function confined(keep: readonly string[], command: readonly string[]): Promise<string[]> {
    const print = await run('capsh', ['--print']);
    const all = /^Bounding set =(.*)$/m.exec(print.stdout)![1]!.split(',').filter(Boolean);
    const wanted = new Set(keep.map((k) => `cap_${k.toLowerCase()}`));
    for (const w of wanted) assert.ok(all.includes(w), `capsh does not know ${w}`);
    const drop = all.filter((c) => !wanted.has(c)).join(',');
    return ['netns', 'exec', netns, 'capsh', `--drop=${drop}`, '--', '-c', 'exec "$0" "$@"', ...command];
  }

  /** Runs the attach probe with only `keep`. */
  async function probe(keep: readonly string[]): Promise<{ ok: boolean; steps: string[]; error?: string }> {
    const r = await run('ip', await confined(keep, [process.execPath, join(DEPLOY, 'testing', 'attach-probe.ts')]));
    const line = r.stdout.trim().split('\n').at(-1) ?? '';
    assert.ok(line.startsWith('{'), `probe printed no result: ${r.stdout}${r.stderr}`);
    return JSON.parse(line);
  }

  const daemonSetCapabilities = (): string[] => container(agent('agent-only')).securityContext.capabilities.add;

  test('the DaemonSet capabilities load, attach and drain; without any one of them loading fails', async (t) => {
    if (!requirePrivileges(t)) return;
    await ensureNetns();
    const add = daemonSetCapabilities();
    const full = await probe(add);
    assert.deepEqual(full, { ok: true, steps: ['load and attach', 'info', 'drain'] });
    for (const missing of add) {
      const r = await probe(add.filter((c) => c !== missing));
      assert.equal(r.ok, false, `still works without CAP_${missing}: drop it from the DaemonSet`);
      assert.deepEqual(r.steps, [], `without CAP_${missing}: ${r.error}`);
      assert.match(r.error ?? '', /not permitted|permission|CAP_/i, `without CAP_${missing}`);
    }
  });

  interface Started { child: ChildProcess; output: () => string; exited: Promise<number | null> }

  /** Starts `ip ARGS` (a process in the namespace); its output is kept for failure messages. */
  function start(args: readonly string[], env: NodeJS.ProcessEnv = process.env): Started {
    const child = spawn('ip', args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    let output = '';
    child.stdout!.on('data', (d) => (output += d));
    child.stderr!.on('data', (d) => (output += d));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    return { child, output: () => output, exited };
  }

  /** test/kube-api's fake API server inside the namespace, with a synthetic cluster; returns a kubeconfig for it. */
  async function fakeKubernetesApi(): Promise<string> {
    const api = spawn('ip', ['netns', 'exec', netns, process.execPath, join(REPO, 'test', 'kube-api', 'serve.ts'), '--pods', '30', '--nodes', '3', '--zones', '3'], { stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(api);
    const { url } = JSON.parse(await firstLine(api.stdout!)) as { url: string };
    const kubeconfig = join(work, `kubeconfig-${api.pid}`);
    writeFileSync(kubeconfig, `apiVersion: v1\nkind: Config\nclusters: [{name: fake, cluster: {server: "${url}", insecure-skip-tls-verify: true}}]\nusers: [{name: agent, user: {}}]\ncontexts: [{name: fake, context: {cluster: fake, user: agent}}]\ncurrent-context: fake\n`);
    return kubeconfig;
  }

  /** The workload's container command line with its config file replaced by `files` (written from the rendered ConfigMap first). */
  function commandLine(variant: Variant, workload: K8sObject, ...extra: string[]): string[] {
    const config = join(work, `${variant}-${workload.metadata.name}-run.yaml`);
    writeFileSync(config, configOf(variant, workload).text);
    const args = container(workload).args as string[];
    assert.deepEqual(args.slice(1, -1), ['--config']);
    return [join(REPO, 'bin', 'zonetap'), args[0]!, '--config', config, ...extra.flatMap((f) => ['--config', f])];
  }

  async function probes(telemetryPort: number, metricsPort: number): Promise<Json> {
    const r = await run('ip', ['netns', 'exec', netns, process.execPath, join(DEPLOY, 'testing', 'pod-probes.ts'), String(telemetryPort), String(metricsPort), '60000']);
    return JSON.parse(r.stdout.trim().split('\n').at(-1) ?? '{}');
  }

  test('the agent-only pod runs its ConfigMap with only those capabilities, answers its probes, stops cleanly', async (t) => {
    if (!requirePrivileges(t)) return;
    await ensureNetns();
    const kubeconfig = await fakeKubernetesApi();
    const ds = agent('agent-only');
    const pod = start(await confined(daemonSetCapabilities(), commandLine('agent-only', ds)), { ...process.env, NODE_NAME: 'node-0', KUBECONFIG: kubeconfig });
    const c = container(ds);
    const seen = await probes(containerPort(c, 'telemetry'), containerPort(c, 'metrics'));
    assert.equal(seen.readyz, 200, `readiness: ${JSON.stringify(seen)}\n${pod.output()}`);
    assert.equal(seen.healthz, 200);
    for (const name of ['zonetap_receiver_table_fill_ratio', 'zonetap_exporter_send_failed_total']) {
      assert.ok(seen.telemetryMetrics.includes(name), `${name} not served: ${seen.telemetryMetrics.join(' ')}`);
    }
    assert.equal(seen.flowMetricsStatus, 200, 'flow metrics port');
    assert.match(pod.output(), /synced with the Kubernetes API/, 'the agent read pods and nodes through its kubeconfig');
    pod.child.kill('SIGTERM');
    assert.equal(await pod.exited, 0, `graceful shutdown:\n${pod.output()}`);
  });

  test('gateway overlay end to end: capped agent -> zonetap-gateway.zonetap.svc -> unprivileged gateway counts the bytes sent', async (t) => {
    if (!requirePrivileges(t)) return;
    await ensureNetns();
    // The Service name resolves inside the namespace: `ip netns exec` mounts /etc/netns/NAME/hosts over /etc/hosts.
    const etc = join('/etc/netns', netns);
    mkdirSync(etc, { recursive: true });
    writeFileSync(join(etc, 'hosts'), '127.0.0.1 localhost\n127.0.0.1 zonetap-gateway.zonetap.svc\n');
    // Pods 3, 4 and 6 of the synthetic cluster: 10.0.0.3 (node-0, zone-0), 10.0.0.4 (node-1, zone-1), 10.0.0.6 (node-0, zone-0).
    for (const address of ['10.0.0.3', '10.0.0.4', '10.0.0.6']) assert.equal((await run('ip', ['-n', netns, 'addr', 'add', `${address}/32`, 'dev', 'lo'])).code, 0);
    const kubeconfig = await fakeKubernetesApi();

    // In the cluster the gateway has its own network namespace; here it shares the agent's, so
    // its telemetry moves off the agent's port with a one-key override file (later files win).
    const gatewayObject = find(rendered.gateway.objects, 'Deployment', 'zonetap-gateway');
    const override = join(work, 'gateway-telemetry-port.yaml');
    writeFileSync(override, 'service:\n  telemetry:\n    metrics:\n      endpoint: 127.0.0.1:18888\n');
    chmodSync(work, 0o755); // the gateway runs as uid 1000 and reads its config from here
    for (const f of readdirSync(work)) chmodSync(join(work, f), 0o644);
    const uid = String(podSpec(gatewayObject).securityContext.runAsUser);
    const gateway = start(['netns', 'exec', netns, 'setpriv', `--reuid=${uid}`, `--regid=${uid}`, '--clear-groups', '--inh-caps=-all', '--bounding-set=-all', '--', ...commandLine('gateway', gatewayObject, override)]);
    const gatewayProbes = await probes(18888, containerPort(container(gatewayObject), 'metrics'));
    assert.equal(gatewayProbes.readyz, 200, `gateway readiness: ${JSON.stringify(gatewayProbes)}\n${gateway.output()}`);

    const ds = agent('gateway');
    const pod = start(await confined(daemonSetCapabilities(), commandLine('gateway', ds)), { ...process.env, NODE_NAME: 'node-0', KUBECONFIG: kubeconfig });
    const agentProbes = await probes(containerPort(container(ds), 'telemetry'), 1);
    assert.equal(agentProbes.readyz, 200, `agent readiness: ${JSON.stringify(agentProbes)}\n${pod.output()}`);

    const tools = join(DEPLOY, 'testing', 'netns-tools.ts');
    for (const [dst, count] of [['10.0.0.4', 100], ['10.0.0.6', 50]] as const) {
      const sent = await run('ip', ['netns', 'exec', netns, process.execPath, tools, 'udp', '10.0.0.3', dst, String(count), '1000']);
      // Every datagram left through POSTROUTING; the receiver may still drop some (socket buffer).
      const result = JSON.parse(sent.stdout) as { sent: number; received: number };
      assert.equal(result.sent, count, sent.stderr);
      assert.ok(result.received > 0, sent.stdout);
    }
    const crossZone = /^zonetap_network_flow_bytes_total\{(?=[^}]*zonetap_traffic_class="cross_zone")(?=[^}]*src_zone="zone-0")(?=[^}]*dst_zone="zone-1")[^}]*\} 100000$/;
    const scraped = await run('ip', ['netns', 'exec', netns, process.execPath, tools, 'scrape', `http://127.0.0.1:${containerPort(container(gatewayObject), 'metrics')}/metrics`, crossZone.source, '60000']);
    const { matched, body } = JSON.parse(scraped.stdout) as { matched: boolean; body: string };
    const flows = body.split('\n').filter((l) => l.startsWith('zonetap_network_flow_')).join('\n');
    assert.ok(matched, `100 packets of 1000 bytes, zone-0 -> zone-1, not counted at the gateway:\n${flows}\n--- agent:\n${pod.output()}\n--- gateway:\n${gateway.output()}`);
    assert.match(flows, /^zonetap_network_flow_packets_total\{(?=[^}]*zonetap_traffic_class="cross_zone")(?=[^}]*k8s_src_owner_name="app-0")[^}]*\} 100$/m);
    assert.match(flows, /^zonetap_network_flow_bytes_total\{(?=[^}]*zonetap_traffic_class="same_zone")[^}]*\} 50000$/m);
    assert.match(flows, /^zonetap_network_flow_cost_usd_total\{(?=[^}]*zonetap_traffic_class="cross_zone")[^}]*\} [0-9.e-]+$/m);

    pod.child.kill('SIGTERM');
    gateway.child.kill('SIGTERM');
    assert.equal(await pod.exited, 0, `agent shutdown:\n${pod.output()}`);
    assert.equal(await gateway.exited, 0, `gateway shutdown:\n${gateway.output()}`);
    rmSync(etc, { recursive: true, force: true });
  });
});

/** The first line a child process prints (its ready message). */
function firstLine(stream: NodeJS.ReadableStream, timeoutMs = 30_000): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    const timer = setTimeout(() => reject(new Error(`no ready line within ${timeoutMs} ms: ${text}`)), timeoutMs);
    stream.on('data', (d) => {
      text += d;
      const end = text.indexOf('\n');
      if (end >= 0) {
        clearTimeout(timer);
        resolve(text.slice(0, end));
      }
    });
  });
}
