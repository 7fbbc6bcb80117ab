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
  /** The agents' kernel receiver: netfilter (at each node's POSTROUTING) or cgroup (at its pods' sockets). Default netfilter. */
  receiver?: 'netfilter' | 'cgroup';
}

export interface Deployment {
  gateway: ZonetapProcess;
  agents: ZonetapProcess[];
  metricsUrl: string;
  flowLog: string;
  inventory: string;
  /** Stops agents first, then the gateway. Idempotent. */
  stop(): Promise<void>;
}

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
      if (cmdline.includes(CONFIG_DIR) && cmdline.includes('cli/main.ts')) process.kill(pid, 'SIGKILL');
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
  writeInventory(cluster.plan, inventory);
  const prometheusPort = await pickPort(options.prometheusPort);
  const otlpPort = await pickPort(options.otlpPort);
  const flowLog = join(options.workdir, 'flows.jsonl');
  const gatewayEndpoint = `127.0.0.1:${otlpPort}`;
  const started: ZonetapProcess[] = [];
  const remember = (p: ZonetapProcess) => {
    started.push(p);
    if (p.child.pid !== undefined) appendFileSync(pids, `${p.child.pid}\n`);
  };
  const stopAll = async () => {
    // Agents first so their last export reaches the gateway.
    await Promise.all(started.slice(1).map((p) => p.stop()));
    await started[0]?.stop();
    rmSync(pids, { force: true });
  };
  try {
    const gateway = new ZonetapProcess(
      'gateway',
      [join(CONFIG_DIR, 'demo-gateway.yaml')],
      {
        ZONETAP_GATEWAY: gatewayEndpoint,
        ZONETAP_INVENTORY: inventory,
        ZONETAP_PROMETHEUS: `127.0.0.1:${prometheusPort}`,
        ZONETAP_FLOWLOG: flowLog,
        ZONETAP_TELEMETRY: `127.0.0.1:${await freePort()}`,
        PROVIDER: options.provider,
      },
      join(options.workdir, 'gateway.log'),
      options.logLevel,
    );
    remember(gateway);
    await gateway.ready();
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
      agents.push(agent);
    }
    await Promise.all(agents.map((a) => a.ready()));
    return {
      gateway,
      agents,
      metricsUrl: `http://127.0.0.1:${prometheusPort}/metrics`,
      flowLog,
      inventory,
      stop: stopAll,
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}
