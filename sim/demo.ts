/**
 * `zonetap demo` (`make demo`): a simulated three-zone cluster in network
 * namespaces, real eBPF agents on every node and a gateway, the kubezonnet
 * story's traffic, a live view of where the bytes cross zones and what they
 * cost, and a closing summary naming the culprits. Cleans up everything.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { frame } from '../exporters/console/index.ts';
import { parseDuration } from '../pipeline/schema.ts';
import { Cluster } from './cluster.ts';
import { deployZonetap, endDeployedProcesses, type Deployment } from './deployment.ts';
import { scrape } from './exposition.ts';
import { advise } from '../advice/index.ts';
import { observedFromFlowLog } from '../exporters/flowlog/index.ts';
import { renderAdvice, renderLive, renderSummary, ratesBetween, totalsOf, type TrafficTotals } from './live-view.ts';
import { QUICK_START_HINT, THIS_HOST, demoProblems } from './preflight.ts';
import { startDemoScenario, type RunningScenario } from './scenario.ts';
import { loadTopology, type Topology } from './topology.ts';

const TOPOLOGY = fileURLToPath(new URL('./topologies/demo.yaml', import.meta.url));
const PROVIDERS = ['gcp', 'aws', 'azure'];
const REFRESH_MS = 3000;
const RATE_WINDOW_MS = 9000;

const USAGE = `usage: zonetap demo

Builds a simulated three-zone cluster in network namespaces on this machine,
runs a zonetap agent per node (real eBPF) and a gateway, sends the traffic of a
small shop and its monitoring, and shows live which workloads move bytes across
zones and what that costs. Needs root, Linux >= 6.4, kernel BTF and the
build (make demo does it). Without them: the quick start, bin/zonetap run
--config config/quickstart.yaml, replays a recorded demo as any user.

environment:
  DURATION   how long the traffic runs: seconds or a duration like 2m (default 60)
  PROVIDER   whose prices: gcp, aws or azure (default gcp)
  INTERVAL   the agents' drain and export interval (default 2s)
  RECEIVER   the agents' kernel receiver: netfilter (at each node's POSTROUTING,
             a netfilter datapath) or cgroup (at the pods' sockets, every node on
             an eBPF host-routing datapath that bypasses netfilter); default netfilter
`;

interface DemoOptions {
  durationMs: number;
  provider: string;
  interval: string;
  receiver: 'netfilter' | 'cgroup';
}

function options(env: NodeJS.ProcessEnv): DemoOptions | string {
  const rawDuration = env.DURATION ?? '60';
  const durationMs = /^\d+$/.test(rawDuration) ? Number(rawDuration) * 1000 : parseDuration(rawDuration);
  if (!durationMs || durationMs < 5000) return `DURATION="${rawDuration}": expected at least 5 seconds, like 60 or 2m`;
  const provider = env.PROVIDER ?? 'gcp';
  if (!PROVIDERS.includes(provider)) return `PROVIDER="${provider}": expected one of ${PROVIDERS.join(', ')}`;
  const interval = env.INTERVAL ?? '2s';
  if (!parseDuration(interval)) return `INTERVAL="${interval}": expected a duration like 2s`;
  const receiver = env.RECEIVER ?? 'netfilter';
  if (receiver !== 'netfilter' && receiver !== 'cgroup') return `RECEIVER="${receiver}": expected netfilter or cgroup`;
  return { durationMs, provider, interval, receiver };
}

/** With the cgroup receiver, every node routes its pods on the eBPF host-routing datapath, where netfilter sees nothing. */
function withDatapath(topology: Topology, receiver: 'netfilter' | 'cgroup'): Topology {
  if (receiver === 'netfilter') return topology;
  return { ...topology, nodes: topology.nodes.map((n) => ({ ...n, datapath: 'host-routing' as const })) };
}

/** How long the gateway serves a render again (exporters/prometheus exposition_max_age, its default in config/demo-gateway.yaml). */
const RENDER_REUSE_MS = 1000;

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => (clearTimeout(timer), resolve()), { once: true });
  });

export async function runDemo(args: string[]): Promise<number> {
  if (args.includes('-h') || args.includes('--help')) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (args.length > 0) {
    process.stderr.write(`zonetap demo: unexpected argument "${args[0]}"\n\n${USAGE}`);
    return 2;
  }
  const opts = options(process.env);
  if (typeof opts === 'string') {
    process.stderr.write(`zonetap demo: ${opts}\n`);
    return 2;
  }
  const problems = demoProblems(THIS_HOST, opts.receiver);
  if (problems.length > 0) {
    process.stderr.write(`zonetap demo cannot run here:\n${problems.map((p) => `  - ${p}\n`).join('')}\n${QUICK_START_HINT}\n`);
    return 1;
  }

  const workdir = mkdtempSync(join(tmpdir(), 'zonetap-demo-'));
  const interrupted = new AbortController();
  let cluster: Cluster | undefined;
  let deployment: Deployment | undefined;
  let scenario: RunningScenario | undefined;
  // Last resort (an exception we did not catch, a second Ctrl-C): nothing may outlive us.
  const onExit = () => {
    if (cluster) endDeployedProcesses(cluster); // also those of a deployment still starting
    cluster?.destroy();
  };
  const onSignal = () => {
    if (interrupted.signal.aborted) process.exit(130); // the second Ctrl-C: 'exit' cleans up
    process.stderr.write('\nstopping...\n');
    interrupted.abort();
  };
  process.on('exit', onExit);
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  let failed = false;
  try {
    const topology = withDatapath(loadTopology(TOPOLOGY), opts.receiver);
    const zones = Object.values(topology.regions).flat();
    const datapath = opts.receiver === 'cgroup' ? ', eBPF host routing' : '';
    process.stdout.write(`Building the simulated cluster (${topology.nodes.length} nodes in ${zones.length} zones${datapath}, ${topology.pods.length} pods)...\n`);
    cluster = await Cluster.build(topology);
    const hook = opts.receiver === 'cgroup' ? "at each node's pod sockets (cgroup)" : "on each node's POSTROUTING hook";
    process.stdout.write(`Starting zonetap: a gateway and ${topology.nodes.length} agents (eBPF ${hook}); logs in ${workdir}\n`);
    deployment = await deployZonetap(cluster, { workdir, interval: opts.interval, provider: opts.provider, prometheusPort: 9464, otlpPort: 4317, receiver: opts.receiver });
    if (interrupted.signal.aborted) return 130;
    scenario = await startDemoScenario(cluster, opts.durationMs);
    const started = Date.now();
    const finished = scenario.finished;
    let done = false;
    void finished.then(() => (done = true));

    // Rates over the last few refreshes: agents export every INTERVAL, so one refresh alone would jitter.
    const history: TrafficTotals[] = [];
    const tty = process.stdout.isTTY === true;
    while (!done && !interrupted.signal.aborted) {
      await sleep(REFRESH_MS, interrupted.signal);
      if (interrupted.signal.aborted) break;
      let totals: TrafficTotals;
      try {
        totals = totalsOf(await scrape(deployment.metricsUrl));
      } catch (error) {
        process.stdout.write(`(could not read ${deployment.metricsUrl}: ${(error as Error).message})\n`);
        continue;
      }
      const windowStart = history.find((h) => totals.at - h.at <= RATE_WINDOW_MS + 500);
      const view = renderLive(ratesBetween(windowStart, totals), {
        provider: opts.provider,
        zones,
        elapsedS: (Date.now() - started) / 1000,
        durationS: opts.durationMs / 1000,
        metricsUrl: deployment.metricsUrl,
        jobRuns: scenario.jobRuns,
      });
      process.stdout.write(frame(view, tty));
      history.push(totals);
      while (history.length > 0 && totals.at - history[0]!.at > RATE_WINDOW_MS) history.shift();
    }
    const seconds = (Date.now() - started) / 1000;
    await scenario.stop();
    // Stopped agents drain their kernel tables once more and flush to the gateway.
    process.stdout.write('\nTraffic stopped; collecting the last intervals...\n');
    await deployment.stopAgents();
    // The gateway shows a label set at 0 in the first render that has it and its count from the next
    // (as Prometheus needs it); a render is reused for 1 s (exposition_max_age): the scrape after
    // that has every count.
    await scrape(deployment.metricsUrl);
    await sleep(RENDER_REUSE_MS + 200, AbortSignal.timeout(60_000));
    const totals = totalsOf(await scrape(deployment.metricsUrl));
    process.stdout.write(
      `\n${renderSummary(totals, { provider: opts.provider, zones, seconds, metricsUrl: deployment.metricsUrl, flowLog: deployment.flowLog })}\n`,
    );
    // The gateway wrote every flow to its log before acknowledging it: the advice reads the whole run,
    // at rates over the run's duration, as the summary's projection (agents' windows on a loaded
    // machine can cover less time than the traffic ran).
    // A run stopped before the gateway wrote any flow has no log to read: the summary stands alone.
    try {
      const advice = advise((await observedFromFlowLog(deployment.flowLog, seconds)).observed, 2);
      process.stdout.write(`\n${renderAdvice(advice, { flowLog: deployment.flowLog, adviceUrl: deployment.metricsUrl.replace(/\/metrics$/, '/advice') })}\n`);
    } catch (error) {
      process.stdout.write(`\n(no advice: ${(error as Error).message})\n`);
    }
    return 0;
  } catch (error) {
    failed = true;
    process.stderr.write(`zonetap demo failed: ${error instanceof Error ? error.message : String(error)}\n(logs kept in ${workdir})\n`);
    return 1;
  } finally {
    await scenario?.stop().catch(() => {});
    await deployment?.stop();
    cluster?.destroy();
    process.stdout.write('Cleaned up: namespaces, cgroups, links and processes of the demo are gone.\n');
    if (!failed) {
      for (const file of ['inventory.yaml', 'gateway.log', ...(cluster?.plan.nodes.map((n) => `agent-${n.name}.log`) ?? [])]) {
        rmSync(join(workdir, file), { force: true });
      }
    }
    process.off('exit', onExit);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
