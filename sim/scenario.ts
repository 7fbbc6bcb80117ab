/**
 * The demo's traffic on sim/topologies/demo.yaml, modelled on the story behind
 * kubezonnet: every api replica queries the postgres primary in one zone, the
 * rule evaluator pulls heavily from metrics-store replicas in the other zones,
 * frontends call the api in their own zone, payments calls a provider on the
 * internet, and a CronJob's pods live for seconds. About 2 MB/s in all.
 */
import type { Cluster } from './cluster.ts';
import type { PlannedPod } from './topology.ts';
import { PodProcess, type PodProgram, type Send } from './traffic.ts';

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => (clearTimeout(timer), resolve()), { once: true });
  });

const PORTS = { api: 8080, postgres: 5432, metricsStore: 9090, https: 443 } as const;
const PAYMENTS_PROVIDER = '203.0.113.50';
const JOB_EVERY_MS = 12_000;
const JOB_RUNS_MS = 4_000;

export interface RunningScenario {
  /** Resolves when the traffic has stopped by itself or by stop(). */
  finished: Promise<void>;
  /** Stops every program and deletes any job pod still running. */
  stop(): Promise<void>;
  /** Job pods started so far. */
  readonly jobRuns: number;
}

/** Starts the demo scenario for `durationMs`; the cluster must be built from sim/topologies/demo.yaml. */
export async function startDemoScenario(cluster: Cluster, durationMs: number): Promise<RunningScenario> {
  const programs: PodProcess[] = [];
  const stop = new AbortController();
  const run = (pod: PlannedPod, program: PodProgram) => {
    const p = cluster.run(pod, program);
    programs.push(p);
    return p;
  };
  const tcp = (to: PlannedPod | string, port: number, size: number, rate: number): Send => ({
    transport: 'tcp',
    to: typeof to === 'string' ? to : to.addresses[0],
    port,
    size,
    rate,
    durationMs,
  });

  const [primary] = cluster.podsOf('postgres');
  const apis = cluster.podsOf('api');
  const stores = cluster.podsOf('metrics-store');
  const frontends = cluster.podsOf('frontend');

  // Servers first: each answers a multiple of what it is asked (rows, samples, pages).
  const servers = [
    run(primary!, { tcpPort: PORTS.postgres, tcpReplyFactor: 12 }),
    ...cluster.podsOf('postgres').slice(1).map((replica) => run(replica, { tcpPort: PORTS.postgres })),
    ...stores.map((store) => run(store, { tcpPort: PORTS.metricsStore, tcpReplyFactor: 25 })),
    ...apis.map((api) => run(api, { tcpPort: PORTS.api, tcpReplyFactor: 3 })),
    new PodProcess(cluster.plan.internetNetns, { tcpPort: PORTS.https, tcpReplyFactor: 1 }),
  ];
  programs.push(servers.at(-1)!);
  await Promise.all(servers.map((s) => s.listening));

  // Clients. The api replicas are servers too: give each its own postgres client program.
  for (const api of apis) run(api, { sends: [tcp(primary!, PORTS.postgres, 300, 15_000)] });
  // Streaming replication from the primary to the replica (small).
  for (const replica of cluster.podsOf('postgres').slice(1)) run(primary!, { sends: [tcp(replica, PORTS.postgres, 1000, 20_000)] });
  for (const [i, frontend] of frontends.entries()) run(frontend, { sends: [tcp(apis[i % apis.length]!, PORTS.api, 500, 40_000)] });
  const [evaluator] = cluster.podsOf('rule-evaluator');
  run(evaluator!, { sends: stores.map((store) => tcp(store, PORTS.metricsStore, 1000, 12_000)) });
  const [payments] = cluster.podsOf('payments');
  run(payments!, { sends: [tcp(PAYMENTS_PROVIDER, PORTS.https, 800, 8_000)] });

  // The CronJob: a run every JOB_EVERY_MS, each pod alive for about JOB_RUNS_MS.
  const jobs = cluster.podsOf('nightly-report');
  let jobRuns = 0;
  const jobLoop = (async () => {
    const ends = Date.now() + durationMs;
    await sleep(3_000, stop.signal);
    while (!stop.signal.aborted && Date.now() + JOB_RUNS_MS + 1_000 < ends && jobs.length > 0) {
      const pod = jobs[jobRuns % jobs.length]!;
      jobRuns += 1;
      if (cluster.isRunning(pod)) cluster.stopPod(pod);
      await cluster.startPod(pod);
      const job = run(pod, { sends: [{ ...tcp(primary!, PORTS.postgres, 1000, 10_000), durationMs: JOB_RUNS_MS }] });
      await Promise.race([job.done.catch(() => {}), sleep(JOB_RUNS_MS + 2_000, stop.signal)]);
      cluster.stopPod(pod);
      await sleep(Math.min(JOB_EVERY_MS - JOB_RUNS_MS, ends - Date.now()), stop.signal);
    }
  })().catch((error: unknown) => {
    // The rest of the traffic goes on; say why the Job stopped running.
    process.stderr.write(`the CronJob's pods stopped: ${error instanceof Error ? error.message : String(error)}\n`);
  });

  const finished = sleep(durationMs, stop.signal);
  return {
    finished,
    get jobRuns() {
      return jobRuns;
    },
    async stop() {
      stop.abort();
      await jobLoop;
      await Promise.all(programs.map((p) => p.stop()));
      for (const job of jobs) if (cluster.isRunning(job)) cluster.stopPod(job);
    },
  };
}
