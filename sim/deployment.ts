/**
 * zonetap deployed on a simulated cluster as on a real one: an agent per node
 * (in the root namespace, attached inside its node's namespace) sending OTLP to
 * one gateway that serves Prometheus exposition and writes a flow log. All on
 * loopback, configured by config/demo-agent.yaml (or demo-agent-cgroup.yaml)
 * and config/demo-gateway.yaml.
 */
import { appendFileSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Cluster } from './cluster.ts';
import { writeInventory } from './inventory.ts';
import type { PlannedPod } from './topology.ts';
import { CONFIG_DIR, ZonetapProcess, freePort, portIsFree } from './zonetap-process.ts';

export interface DeploymentOptions {
  /** Where the inventory, the logs and the flow log go. */
  workdir: string;
  /** Agents' drain and export interval, like `2s`. */
  interval: string;
  provider: string;
  /** Preferred ports; a taken one is replaced by a free one. Default: any free port. */
  prometheusPort?: number;
  otlpPort?: number;
  /** Overrides the configs' log level (warn), e.g. `info` in tests. */
  logLevel?: string;
  /**
   * When an ephemeral (Job) pod gets into the inventory that zonetap reads:
   * `started` (default) as soon as it starts and out again when it stops, as
   * the API server lists pods; `manual` only through publishPods(), so that a
   * test can make a pod reach the agents after its first flows.
   */
  podInventory?: 'started' | 'manual';
  /** The agents' kernel receiver: netfilter (at each node's POSTROUTING) or cgroup (at its pods' sockets). Default netfilter. */
  receiver?: 'netfilter' | 'cgroup';
  /**
   * The gateway's config instead of config/demo-gateway.yaml, with the same
   * variables: e.g. k8sattributes with the Kubernetes source (a fake API
   * server holding the cluster's objects and Services) instead of the inventory.
   */
  gatewayConfig?: string;
}

export interface Deployment {
  /** The gateway process running now (rollGateway() replaces it). */
  gateway: ZonetapProcess;
  agents: ZonetapProcess[];
  metricsUrl: string;
  flowLog: string;
  inventory: string;
  /**
   * Rolls the gateway as a Deployment rollout does: SIGTERM (it drains and
   * waits for a last scrape), then a new process on the same ports with an
   * empty state; resolves when the new one is ready. Agents retry meanwhile.
   */
  rollGateway(): Promise<void>;
  /** SIGTERM to every agent: each drains its kernel tables and flushes to the gateway. Idempotent. */
  stopAgents(): Promise<void>;
  /** From now on lists these ephemeral pods in the inventory (podInventory: manual), as if the API server had just told of them. */
  publishPods(...pods: PlannedPod[]): void;
  /** Stops agents first, then the gateway. Idempotent. */
  stop(): Promise<void>;
}

/**
 * How long a stopping gateway may take before SIGKILL: it waits for a last
 * scrape of what it counted (two of its scraper's intervals and 3 s at most).
 */
const GATEWAY_STOP_GRACE_MS = 30_000;

async function pickPort(preferred: number | undefined): Promise<number> {
  if (preferred !== undefined && (await portIsFree(preferred))) return preferred;
  return freePort();
}

/**
 * The pids of a scenario's zonetap processes, so that the next run can end
 * those a crashed (SIGKILLed) run left behind: they run in the root namespace,
 * where removing the cluster's namespaces does not reach them.
 */
const pidFile = (cluster: Cluster) => join(tmpdir(), `${cluster.prefix}zonetap.pids`);

/**
 * Ends (SIGKILL) the zonetap processes a deployment on `cluster` started and
 * that still run: left by a crashed earlier run, or from an 'exit' handler.
 * Synchronous.
 */
export function endDeployedProcesses(cluster: Cluster): void {
  endStaleProcesses(pidFile(cluster));
}

function endStaleProcesses(file: string): void {
  let pids: number[];
  try {
    pids = readFileSync(file, 'utf8').split('\n').filter(Boolean).map(Number);
  } catch {
    return;
  }
  for (const pid of pids) {
    try {
      // Only if that pid is still one of ours (pids are reused): zonetap running a demo config.
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      // bin/zonetap runs the sources (cli/main.ts) or their bundle (build/zonetap.mjs).
      if (cmdline.includes(CONFIG_DIR) && (cmdline.includes('cli/main.ts') || cmdline.includes('build/zonetap.mjs'))) process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
  rmSync(file, { force: true });
}

/** Starts the gateway, then an agent per node, and waits until all are ready; on failure stops what it started. */
export async function deployZonetap(cluster: Cluster, options: DeploymentOptions): Promise<Deployment> {
  const pids = pidFile(cluster);
  endStaleProcesses(pids);
  const inventory = join(options.workdir, 'inventory.yaml');
  const published = new Set<PlannedPod>();
  const listed =
    options.podInventory === 'manual'
      ? (pod: PlannedPod) => !pod.spec.ephemeral || published.has(pod)
      : (pod: PlannedPod) => !pod.spec.ephemeral || cluster.isRunning(pod);
  const publish = () => writeInventory(cluster.plan, inventory, listed);
  publish();
  const unwatch = options.podInventory === 'manual' ? () => {} : cluster.watchPods(publish);
  const prometheusPort = await pickPort(options.prometheusPort);
  const otlpPort = await pickPort(options.otlpPort);
  const flowLog = join(options.workdir, 'flows.jsonl');
  const gatewayEndpoint = `127.0.0.1:${otlpPort}`;
  const gatewayEnv = {
    ZONETAP_GATEWAY: gatewayEndpoint,
    ZONETAP_INVENTORY: inventory,
    ZONETAP_PROMETHEUS: `127.0.0.1:${prometheusPort}`,
    ZONETAP_FLOWLOG: flowLog,
    ZONETAP_TELEMETRY: `127.0.0.1:${await freePort()}`,
    PROVIDER: options.provider,
  };
  /** The gateway first, then the agents. */
  const started: ZonetapProcess[] = [];
  const remember = (p: ZonetapProcess) => {
    if (p.child.pid !== undefined) appendFileSync(pids, `${p.child.pid}\n`);
  };
  const startGateway = async () => {
    const gateway = new ZonetapProcess('gateway', [options.gatewayConfig ?? join(CONFIG_DIR, 'demo-gateway.yaml')], gatewayEnv, join(options.workdir, 'gateway.log'), options.logLevel);
    remember(gateway);
    started[0] = gateway;
    await gateway.ready();
    return gateway;
  };
  const stopAgents = async () => {
    await Promise.all(started.slice(1).map((p) => p.stop()));
  };
  const stopAll = async () => {
    unwatch();
    // Agents first so their last export reaches the gateway.
    await stopAgents();
    await started[0]?.stop(GATEWAY_STOP_GRACE_MS);
    rmSync(pids, { force: true });
  };
  try {
    await startGateway();
    const agents: ZonetapProcess[] = [];
    for (const node of cluster.plan.nodes) {
      const agent = new ZonetapProcess(
        `agent on ${node.name}`,
        [join(CONFIG_DIR, options.receiver === 'cgroup' ? 'demo-agent-cgroup.yaml' : 'demo-agent.yaml')],
        {
          ZONETAP_INTERVAL: options.interval,
          ZONETAP_NETNS: `/run/netns/${node.netns}`,
          ZONETAP_CGROUP_ROOT: cluster.cgroupRoot,
          ZONETAP_CGROUP_PATH: node.cgroup,
          ZONETAP_INVENTORY: inventory,
          NODE_NAME: node.name,
          ZONETAP_GATEWAY: gatewayEndpoint,
          ZONETAP_TELEMETRY: `127.0.0.1:${await freePort()}`,
        },
        join(options.workdir, `agent-${node.name}.log`),
        options.logLevel,
      );
      remember(agent);
      started.push(agent);
      agents.push(agent);
    }
    await Promise.all(agents.map((a) => a.ready()));
    const deployment: Deployment = {
      gateway: started[0]!,
      agents,
      metricsUrl: `http://127.0.0.1:${prometheusPort}/metrics`,
      flowLog,
      inventory,
      async rollGateway() {
        await started[0]!.stop(GATEWAY_STOP_GRACE_MS);
        deployment.gateway = await startGateway();
      },
      stopAgents,
      publishPods(...pods) {
        for (const pod of pods) published.add(pod);
        publish();
      },
      stop: stopAll,
    };
    return deployment;
  } catch (error) {
    await stopAll();
    throw error;
  }
}
