/**
 * Sidecar benchmark (`node bench/sidecar.bench.ts`, root): what zonetap costs in a pod, beside
 * what the agent costs on the node, both seeing the same 1,000 flows per interval.
 *
 * A simulated cluster (sim/topologies/sidecar.yaml) whose API (test/kube-api, the simulated pods
 * plus 1,000 synthetic ones, so that the watch holds a realistic cluster) both processes list and
 * watch. shop/postgres-0 sends UDP on 1,000 sockets (1,000 flows) to a peer in the other zone,
 * 10 datagrams/s each, for the whole run.
 * - sidecar: config/sidecar.yaml in postgres-0's own network namespace (pod_name mode);
 * - baseline, same run, same flows: the agent-only agent (deploy/kubernetes/overlays/agent-only/
 *   agent.yaml: node_name mode, the same processors and exporter) attached in node-a's namespace,
 *   where postgres-0's packets are forwarded.
 * Both at the shipped 10 s interval. After a warm-up of two intervals, CPU (utime + stime from
 * /proc) over six intervals, and resident memory (VmRSS) sampled every second: median and peak.
 * The flows per interval are read back from each one's zonetap_receiver_drain_flows.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cluster, PodProcess, loadTopology, parseExposition, sumOf, writeInventory, type Send } from '../sim/index.ts';
import { freePort } from '../test/support/loopback.ts';
import { fetchInNetns } from '../test/support/netns.ts';
import { sleep } from '../test/support/poll.ts';
import { privilegeProblem } from '../test/support/privileges.ts';
import type { RunningProgram } from '../test/support/processes.ts';
import { startReady } from './agent-harness.ts';
import { cpuSeconds, median, rssMiB } from './process-stats.ts';
import { result } from './report.ts';

const problem = privilegeProblem();
if (problem) {
  console.log(`sidecar benchmark skipped: ${problem}`);
  process.exit(0);
}

const REPO = join(import.meta.dirname, '..');
const FLOWS = 1000;
const INTERVAL_S = 10;
const WARMUP_S = 2 * INTERVAL_S + 5;
const MEASURE_S = 6 * INTERVAL_S;

const workdir = mkdtempSync(join(tmpdir(), 'zt-bench-sidecar-'));
const programs: RunningProgram[] = [];
const cluster = await Cluster.build(loadTopology(join(REPO, 'sim', 'topologies', 'sidecar.yaml')), { scenario: `ztb${process.pid % 100000}` });

/** Runs `command` (in `netns` when given); resolves once it printed a line matching `ready`. */
function start(name: string, netns: string | undefined, command: string[], env: NodeJS.ProcessEnv, ready: RegExp): Promise<RunningProgram> {
  const [file, ...args] = netns ? ['ip', 'netns', 'exec', netns, ...command] : command;
  return startReady(programs, name, file!, args, env, ready);
}

async function kubeApi(netns: string | undefined, inventory: string): Promise<string> {
  const command = [process.execPath, join(REPO, 'test', 'kube-api', 'serve.ts'), '--inventory', inventory, '--pods', '1000', '--nodes', '30'];
  const api = await start('fake API server', netns, command, process.env, /"url"/);
  const { url } = JSON.parse(api.output().split('\n')[0]!) as { url: string };
  const file = join(workdir, `kubeconfig-${netns ?? 'root'}`);
  writeFileSync(file, `apiVersion: v1\nkind: Config\nclusters: [{name: sim, cluster: {server: "${url}", insecure-skip-tls-verify: true}}]\nusers: [{name: zonetap, user: {}}]\ncontexts: [{name: sim, context: {cluster: sim, user: zonetap}}]\ncurrent-context: sim\n`);
  return file;
}


try {
  const db = cluster.pod('shop/postgres-0');
  const peer = cluster.pod('shop/api-1');
  const inventory = join(workdir, 'inventory.yaml');
  writeInventory(cluster.plan, inventory);

  // The sidecar, as deployed (config/sidecar.yaml), with its API on the pod's loopback.
  const sidecarOverride = join(workdir, 'sidecar-override.json');
  writeFileSync(sidecarOverride, JSON.stringify({ processors: { k8sattributes: { kubeconfig: await kubeApi(db.netns, inventory) } } }));
  const sidecar = await start(
    'sidecar',
    db.netns,
    [join(REPO, 'bin', 'zonetap'), 'run', '--config', join(REPO, 'config', 'sidecar.yaml'), '--config', sidecarOverride],
    { ...process.env, POD_NAME: 'postgres-0', POD_NAMESPACE: 'shop', POD_IP: db.addresses[0]! },
    /zonetap is ready/,
  );

  // The agent-only agent, counting in node-a's namespace from outside it (as a hostNetwork pod would from inside).
  const agentOverride = join(workdir, 'agent-override.json');
  const [agentTelemetry, agentMetrics] = [await freePort(), await freePort()];
  writeFileSync(agentOverride, JSON.stringify({
    receivers: { netfilter: { netns: `/run/netns/${cluster.plan.nodes.find((n) => n.name === 'node-a')!.netns}` } },
    processors: { k8sattributes: { kubeconfig: await kubeApi(undefined, inventory) } },
    exporters: { prometheus: { endpoint: `127.0.0.1:${agentMetrics}` } },
    service: { telemetry: { metrics: { endpoint: `127.0.0.1:${agentTelemetry}` } } },
  }));
  const agent = await start(
    'agent',
    undefined,
    [join(REPO, 'bin', 'zonetap'), 'run', '--config', join(REPO, 'deploy', 'kubernetes', 'overlays', 'agent-only', 'agent.yaml'), '--config', agentOverride],
    { ...process.env, NODE_NAME: 'node-a', POD_IP: '127.0.0.1' },
    /zonetap is ready/,
  );

  const server = new PodProcess(peer.netns, { udpPort: 7000 });
  await server.listening;
  const sends: Send[] = Array.from({ length: FLOWS }, () => ({ transport: 'udp', to: peer.addresses[0]!, port: 7000, size: 100, rate: 1000, durationMs: (WARMUP_S + MEASURE_S + 5) * 1000 }));
  const traffic = new PodProcess(db.netns, { sends });
  await sleep(WARMUP_S * 1000);

  const processes = { sidecar: sidecar.child.pid!, agent: agent.child.pid! };
  const cpu0 = { sidecar: cpuSeconds(processes.sidecar), agent: cpuSeconds(processes.agent) };
  const rss: Record<'sidecar' | 'agent', number[]> = { sidecar: [], agent: [] };
  const t0 = performance.now();
  while (performance.now() - t0 < MEASURE_S * 1000) {
    for (const k of ['sidecar', 'agent'] as const) rss[k].push(rssMiB(processes[k]));
    await sleep(1000);
  }
  const wall = (performance.now() - t0) / 1000;
  const cpu = { sidecar: cpuSeconds(processes.sidecar) - cpu0.sidecar, agent: cpuSeconds(processes.agent) - cpu0.agent };

  // Flows per drain, from each one's own telemetry (the sidecar's is inside the pod).
  const sidecarTelemetry = await fetchInNetns(db.netns, `http://${db.addresses[0]}:18888/metrics`);
  const agentTelemetryText = await (await fetch(`http://127.0.0.1:${agentTelemetry}/metrics`)).text();
  const flowsPerDrain = (text: string) => {
    const samples = parseExposition(text);
    return sumOf(samples, 'zonetap_receiver_drain_flows_sum') / Math.max(1, sumOf(samples, 'zonetap_receiver_drain_flows_count'));
  };
  await traffic.stop();
  await server.stop();

  const intervals = wall / INTERVAL_S;
  const row = (k: 'sidecar' | 'agent', text: string) => ({
    rss: `${median(rss[k]).toFixed(0)} MiB (peak ${Math.max(...rss[k]).toFixed(0)})`,
    cpu: `${((cpu[k] / intervals) * 1000).toFixed(0)} ms per interval (${((cpu[k] / wall) * 100).toFixed(1)}% of a core)`,
    flows: flowsPerDrain(text).toFixed(0),
  });
  const s = row('sidecar', sidecarTelemetry);
  const a = row('agent', agentTelemetryText);
  console.log(`\nzonetap sidecar vs agent: ${FLOWS} flows, ${INTERVAL_S}s interval, ${MEASURE_S}s measured after ${WARMUP_S}s, cluster of ${1000 + cluster.plan.pods.length} pods`);
  console.log('| process | flows per drain (average since start) | resident memory, median | CPU |');
  console.log('|---|---:|---:|---:|');
  console.log(`| sidecar (config/sidecar.yaml, pod's namespace) | ${s.flows} | ${s.rss} | ${s.cpu} |`);
  console.log(`| agent (agent-only agent.yaml, node's namespace) | ${a.flows} | ${a.rss} | ${a.cpu} |`);
  result({ measure: `sidecar at ${FLOWS} flows per ${INTERVAL_S}s interval: resident memory, CPU`, value: `${s.rss}, ${s.cpu}`, baseline: `agent, same flows: ${a.rss}, ${a.cpu}` });
  await Promise.all([sidecar, agent].map((p) => p.stop('SIGTERM')));
} finally {
  for (const p of programs) await p.stop('SIGKILL');
  cluster.destroy();
  rmSync(workdir, { recursive: true, force: true });
}
