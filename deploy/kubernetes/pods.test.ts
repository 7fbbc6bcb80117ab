/**
 * The agent and gateway pods as deployed, on the real kernel: the DaemonSet's capabilities are
 * exactly what zonetap's eBPF program needs, the agent-only agent runs its ConfigMap with them
 * and answers its probes, and the gateway overlay counts bytes end to end, each process in a
 * network namespace that the test creates and deletes.
 */
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { status as grpcStatus } from '@grpc/grpc-js';
import { assertExactlyNeeded, confinedCommand } from '../../test/support/capabilities.ts';
import { readableCopy } from '../../test/support/checkout.ts';
import { agentOf, configOf as configIn, container, containerPort, find, podSpec, renderAll } from '../../test/support/manifests.ts';
import type { Json, K8sObject, Rendered, Variant } from '../../test/support/manifests.ts';
import { containerCommand, containerEnv } from '../../test/support/pod-env.ts';
import type { PodFacts } from '../../test/support/pod-env.ts';
import { requirePrivileges } from '../../test/support/privileges.ts';
import { firstLine, REPO, run, startProgram, type RunningProgram } from '../../test/support/processes.ts';

const work = mkdtempSync(join(tmpdir(), 'zt-deploy-k8s-'));
after(() => rmSync(work, { recursive: true, force: true }));

let rendered: Rendered;
before(async () => {
  rendered = await renderAll();
});
const agent = (v: Variant) => agentOf(rendered, v);
const configOf = (v: Variant, workload: K8sObject) => configIn(rendered, v, workload);
/** node-0 of test/kube-api's synthetic cluster: a hostNetwork agent's pod IP is its node's address. */
const NODE_IP = '192.168.0.1';
/** What the kubelet gives the pods on node-0 (Secrets as the tests obtain them). */
const podFacts = (secrets: PodFacts['secrets'] = {}): PodFacts => ({
  fields: { 'spec.nodeName': 'node-0', 'status.podIP': NODE_IP, 'metadata.namespace': 'zonetap' },
  secrets,
  volumesDir: join(work, 'volumes'),
});

describe('the pods as deployed, on the real kernel', () => {
  const netns = `zt-deploy-${process.pid}`;
  const children: RunningProgram[] = [];
  const copies: string[] = [];
  after(async () => {
    for (const c of children) await c.stop('SIGKILL');
    for (const dir of copies) rmSync(dir, { recursive: true, force: true });
    await run('ip', ['netns', 'del', netns]);
    rmSync(join('/etc/netns', netns), { recursive: true, force: true });
  });

  async function ensureNetns(): Promise<void> {
    if ((await run('ip', ['netns', 'exec', netns, 'true'])).code === 0) return;
    const created = await run('ip', ['netns', 'add', netns]);
    assert.equal(created.code, 0, created.stderr);
    assert.equal((await run('ip', ['-n', netns, 'link', 'set', 'lo', 'up'])).code, 0);
    // The node's own address, beside loopback: the agent must serve on this one only.
    assert.equal((await run('ip', ['-n', netns, 'addr', 'add', `${NODE_IP}/32`, 'dev', 'lo'])).code, 0);
  }

  const daemonSetCapabilities = (): string[] => container(agent('agent-only')).securityContext.capabilities.add;

  test('the DaemonSet capabilities load, attach and drain; without any one of them loading fails', async (t) => {
    if (!requirePrivileges(t)) return;
    await ensureNetns();
    await assertExactlyNeeded(netns, daemonSetCapabilities(), 'the agent DaemonSet');
  });

  /** Starts `ip ARGS` (a process in the namespace); its output is kept for failure messages. */
  function start(args: readonly string[], env: NodeJS.ProcessEnv = process.env): RunningProgram {
    const program = startProgram('ip', args, { env });
    children.push(program);
    return program;
  }

  /** test/kube-api's fake API server inside the namespace, with a synthetic cluster; returns a kubeconfig for it. */
  async function fakeKubernetesApi(): Promise<string> {
    const api = start(['netns', 'exec', netns, process.execPath, join(REPO, 'test', 'kube-api', 'serve.ts'), '--pods', '30', '--nodes', '3', '--zones', '3']);
    const { url } = JSON.parse(await firstLine(api.child.stdout!)) as { url: string };
    const kubeconfig = join(work, `kubeconfig-${api.child.pid}`);
    writeFileSync(kubeconfig, `apiVersion: v1\nkind: Config\nclusters: [{name: fake, cluster: {server: "${url}", insecure-skip-tls-verify: true}}]\nusers: [{name: agent, user: {}}]\ncontexts: [{name: fake, context: {cluster: fake, user: agent}}]\ncurrent-context: fake\n`);
    return kubeconfig;
  }

  /**
   * The workload's container command line, running `zonetap` (this checkout's bin/zonetap by
   * default), with its config file written from the rendered ConfigMap, then `extra` files, then
   * the container's other arguments.
   */
  function commandLine(variant: Variant, workload: K8sObject, options: { zonetap?: string; extra?: string[] } = {}): string[] {
    const config = join(work, `${variant}-${workload.metadata.name}-run.yaml`);
    writeFileSync(config, configOf(variant, workload).text);
    const args = container(workload).args as string[];
    assert.equal(args[1], '--config');
    return [options.zonetap ?? join(REPO, 'bin', 'zonetap'), args[0]!, '--config', config, ...(options.extra ?? []).flatMap((f) => ['--config', f]), ...args.slice(3)];
  }

  /** The kubelet's probes and Prometheus' scrapes at `host`; `other`: another address of the node, to check nothing listens there. */
  async function probes(host: string, telemetryPort: number, metricsPort: number, other?: string): Promise<Json> {
    const r = await run('ip', ['netns', 'exec', netns, process.execPath, join(import.meta.dirname, 'testdata', 'pod-probes.ts'), host, String(telemetryPort), String(metricsPort), '60000', ...(other ? [other] : [])]);
    return JSON.parse(r.stdout.trim().split('\n').at(-1) ?? '{}');
  }

  test('the agent-only pod runs its ConfigMap with only those capabilities, answers its probes on its pod IP only, stops cleanly', async (t) => {
    if (!requirePrivileges(t)) return;
    await ensureNetns();
    const kubeconfig = await fakeKubernetesApi();
    const ds = agent('agent-only');
    const pod = start(await confinedCommand(netns, daemonSetCapabilities(), commandLine('agent-only', ds)), { ...process.env, ...containerEnv(ds, podFacts()), KUBECONFIG: kubeconfig });
    const c = container(ds);
    const seen = await probes(NODE_IP, containerPort(c, 'telemetry'), containerPort(c, 'metrics'), '127.0.0.1');
    assert.deepEqual(seen.elsewhere, { telemetry: 0, metrics: 0 }, 'the agent serves on another address of the node than its pod IP');
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

  test('gateway overlay end to end: the token Job, a capped agent -> zonetap-gateway.zonetap.svc -> unprivileged gateway that counts the bytes sent and refuses impostors', async (t) => {
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
    // As the Deployment and the Job say: their uid, no capabilities at all, their files read from `work`.
    const uid = String(podSpec(gatewayObject).securityContext.runAsUser);
    assert.notEqual(uid, '0', 'the gateway runs as a user other than root');
    chmodSync(work, 0o755);
    for (const f of readdirSync(work)) chmodSync(join(work, f), 0o644);
    const unprivileged = ['setpriv', `--reuid=${uid}`, `--regid=${uid}`, '--clear-groups', '--inh-caps=-all', '--bounding-set=-all', '--'];
    const runsAsUid = (node: string, root: string) => run('ip', ['netns', 'exec', netns, ...unprivileged, node, join(root, 'pipeline', 'version.ts')]);
    // A checkout that uid cannot read (under /root, say): it runs a copy that it can read, never as another uid.
    let runtime = { root: REPO, node: process.execPath, zonetap: join(REPO, 'bin', 'zonetap') };
    if ((await runsAsUid(process.execPath, REPO)).code !== 0) {
      const copy = readableCopy();
      copies.push(copy.root);
      t.diagnostic(`uid ${uid} cannot read ${REPO}: the gateway and the Job run from a copy in ${copy.root}`);
      const fromCopy = await runsAsUid(copy.node, copy.root);
      assert.equal(fromCopy.code, 0, `uid ${uid} cannot run zonetap from the copy in ${copy.root}: ${fromCopy.stderr}`);
      runtime = copy;
    }

    // The Job makes the token Secret; kubectl reads it back as the kubelet would mount it.
    const job = find(rendered.gateway.objects, 'Job', 'zonetap-otlp-token');
    assert.equal(String(podSpec(job).securityContext.runAsUser), uid);
    const jobEnv = containerEnv(job, podFacts());
    const [program, ...jobArgs] = containerCommand(job, jobEnv).map((a) => a.replace(/^\/app\//, join(runtime.root, '/')));
    assert.equal(program, 'node');
    const made = await run('ip', ['netns', 'exec', netns, ...unprivileged, runtime.node, ...jobArgs], { env: { PATH: process.env.PATH, ...jobEnv, KUBECONFIG: kubeconfig } });
    assert.equal(made.code, 0, made.stdout + made.stderr);
    const read = await run('ip', ['netns', 'exec', netns, 'kubectl', '--kubeconfig', kubeconfig, '-n', 'zonetap', 'get', 'secret', 'zonetap-otlp-token', '-o', 'jsonpath={.data.token}']);
    assert.equal(read.code, 0, read.stderr);
    const secrets = { 'zonetap-otlp-token': { token: Buffer.from(read.stdout, 'base64').toString('utf8') } };

    const gatewayEnv = { ...process.env, ...containerEnv(gatewayObject, podFacts(secrets)) };
    const gateway = start(['netns', 'exec', netns, ...unprivileged, ...commandLine('gateway', gatewayObject, { zonetap: runtime.zonetap, extra: [override] })], gatewayEnv);
    const gatewayProbes = await probes('127.0.0.1', 18888, containerPort(container(gatewayObject), 'metrics'));
    assert.equal(gatewayProbes.readyz, 200, `gateway readiness: ${JSON.stringify(gatewayProbes)}\n${gateway.output()}`);

    const ds = agent('gateway');
    const pod = start(await confinedCommand(netns, daemonSetCapabilities(), commandLine('gateway', ds)), { ...process.env, ...containerEnv(ds, podFacts(secrets)), KUBECONFIG: kubeconfig });
    const agentProbes = await probes(NODE_IP, containerPort(container(ds), 'telemetry'), 1);
    assert.equal(agentProbes.readyz, 200, `agent readiness: ${JSON.stringify(agentProbes)}\n${pod.output()}`);

    const tools = join(import.meta.dirname, 'testdata', 'netns-tools.ts');
    for (const [dst, count] of [['10.0.0.4', 100], ['10.0.0.6', 50]] as const) {
      const sent = await run('ip', ['netns', 'exec', netns, process.execPath, tools, 'udp', '10.0.0.3', dst, String(count), '1000']);
      // Every datagram left through POSTROUTING; the receiver may still drop some (socket buffer).
      const result = JSON.parse(sent.stdout) as { sent: number; received: number };
      assert.equal(result.sent, count, sent.stderr);
      assert.ok(result.received > 0, sent.stdout);
    }
    // Any other pod that reaches the gateway: made-up flows without the token, or with a wrong one, are refused.
    const otlpPort = String(containerPort(container(gatewayObject), 'otlp-grpc'));
    const impostor = async (...token: string[]) => JSON.parse((await run('ip', ['netns', 'exec', netns, process.execPath, tools, 'otlp', otlpPort, ...token])).stdout) as { code: number; details: string };
    assert.equal((await impostor()).code, grpcStatus.UNAUTHENTICATED);
    assert.equal((await impostor('made-up-token')).code, grpcStatus.UNAUTHENTICATED);

    const crossZone = /^zonetap_network_flow_bytes_total\{(?=[^}]*zonetap_traffic_class="cross_zone")(?=[^}]*src_zone="zone-0")(?=[^}]*dst_zone="zone-1")[^}]*\} 100000$/;
    const scraped = await run('ip', ['netns', 'exec', netns, process.execPath, tools, 'scrape', `http://127.0.0.1:${containerPort(container(gatewayObject), 'metrics')}/metrics`, crossZone.source, '60000']);
    const { matched, body } = JSON.parse(scraped.stdout) as { matched: boolean; body: string };
    const flows = body.split('\n').filter((l) => l.startsWith('zonetap_network_flow_')).join('\n');
    assert.ok(matched, `100 packets of 1000 bytes, zone-0 -> zone-1, not counted at the gateway:\n${flows}\n--- agent:\n${pod.output()}\n--- gateway:\n${gateway.output()}`);
    assert.match(flows, /^zonetap_network_flow_packets_total\{(?=[^}]*zonetap_traffic_class="cross_zone")(?=[^}]*k8s_src_owner_name="app-0")[^}]*\} 100$/m);
    assert.match(flows, /^zonetap_network_flow_bytes_total\{(?=[^}]*zonetap_traffic_class="same_zone")[^}]*\} 50000$/m);
    assert.match(flows, /^zonetap_network_flow_cost_usd_total\{(?=[^}]*zonetap_traffic_class="cross_zone")[^}]*\} [0-9.e-]+$/m);
    // The labels the alert rules and the dashboard group by are on the real series.
    const crossZoneLine = flows.split('\n').find((l) => crossZone.test(l))!;
    for (const label of ['k8s_src_namespace', 'k8s_src_owner_type', 'k8s_src_owner_name', 'src_zone', 'k8s_dst_namespace', 'k8s_dst_owner_name', 'dst_zone', 'zonetap_traffic_class']) {
      assert.match(crossZoneLine, new RegExp(`[{,]${label}="[^"]+"`), `${label} missing: ${crossZoneLine}`);
    }

    assert.doesNotMatch(body, /forged/, 'flows from an unauthenticated sender reached the metrics');
    // The same request with the Job's token goes through: the token was what kept it out.
    assert.deepEqual(await impostor(secrets['zonetap-otlp-token'].token), { code: grpcStatus.OK, details: '' });

    pod.child.kill('SIGTERM');
    gateway.child.kill('SIGTERM');
    assert.equal(await pod.exited, 0, `agent shutdown:\n${pod.output()}`);
    assert.equal(await gateway.exited, 0, `gateway shutdown:\n${gateway.output()}`);
    rmSync(etc, { recursive: true, force: true });
  });
});
