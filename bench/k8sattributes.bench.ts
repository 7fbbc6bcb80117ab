/**
 * k8sattributes benchmark (`node --expose-gc bench/k8sattributes.bench.ts`).
 *
 * 1. Throughput, one thread: 10k pods on 30 nodes in 3 zones (static source),
 *    batches of 100k flows (each end 90% pod, 5% node address, 5% internet),
 *    two traffic scenarios (see makeBatch): `realistic` (each deployment calls
 *    3 others) and `uniform` (any pod to any pod). Batches come in as columns
 *    (a ColumnBatch built from the records, not timed: what the kernel
 *    receivers hand on); the rows marked "records in" take the same flows as
 *    record objects (the records path, the figure before columns). Rows:
 *    each stage alone on input already processed upstream (not timed), the
 *    whole chain
 *    k8sattributes -> crosszone -> aggregate by workload (the goal: >= 1M
 *    records/s), records per CPU second and per wall second, medians of
 *    ROUNDS batches. Baseline, same run: informer-cache resolution as
 *    kubezonnet and a straightforward client-node user do it: pod looked up
 *    by IP among the full cached pod objects, then its node by name for the
 *    zone label (with the legacy fallback), then its ReplicaSet by
 *    namespace/name for the Deployment; alone and followed by the same
 *    crosszone -> aggregate.
 * 1b. The same, realistic traffic, with 10k external prefixes loaded from an
 *    AWS-format ip-ranges.json (external_ranges); the internet ends fall in
 *    them. Baseline, same run: k8sattributes without external prefixes.
 * 2. Memory per pod, kubernetes source fed by the fake API server in a child
 *    process (its memory is not counted), each sync measured in a process of
 *    its own (bench/k8sattributes-heap.ts: warmed up, heap settled by gc
 *    before and after): heap used after the first sync minus before,
 *    divided by pods; 10k and 100k pods, each Deployment
 *    of 10 pods behind a Service with one EndpointSlice (so per pod includes
 *    the Services' share). Baseline, same run: the library's ListWatch caching
 *    full pod objects (no transform), 10k pods.
 * 3. Memory per Service: the 10k-pod cluster with its 1,000 Services and
 *    EndpointSlices minus the same cluster without them (two processes, as
 *    in 2), divided by 1,000.
 *    Baseline, same run: the library's ListWatch caching the full Service
 *    and EndpointSlice objects.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { stringify } from 'yaml';
import { flowCount, type FlowBatch, type FlowRecord } from '../pipeline/flow.ts';
import { ColumnBatch, columnsFromRecords } from '../pipeline/columns.ts';
import { MUTATES_DATA, READ_ONLY, type FlowConsumer } from '../pipeline/component.ts';
import { testSettings } from '../test/support/components.ts';
import { sleep } from '../test/support/poll.ts';
import { configSchema } from '../processors/k8sattributes/config.ts';
import { K8sAttributesProcessor } from '../processors/k8sattributes/processor.ts';
import { crosszoneProcessorFactory } from '../processors/crosszone/index.ts';
import { aggregateProcessorFactory } from '../processors/aggregate/index.ts';
import { syntheticCluster, type SyntheticCluster } from '../test/kube-api/synthetic.ts';
import { goal, result } from './report.ts';

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) {
  console.error('run with --expose-gc (bench/run.ts passes it)');
  process.exit(2);
}
const PODS = 10_000;
const FLOWS = 100_000;
const ROUNDS = 8;
const dir = mkdtempSync(join(tmpdir(), 'zt-bench-k8sattr-'));

class Sink implements FlowConsumer {
  readonly capabilities = READ_ONLY;
  records = 0;
  /** Records in the last batch (after roll-up: the groups). */
  lastOut = 0;
  async consume(batch: FlowBatch): Promise<void> {
    // Counted without turning columns into records: a stage measured alone hands on columns.
    const n = flowCount(batch);
    this.records += n;
    this.lastOut = n;
  }
}

/** Deterministic pseudo-random integers in [0, n) (mulberry32: every run measures the same batches). */
function random(seed: number): (n: number) => number {
  let state = seed | 0;
  return (n) => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return Math.floor((((t ^ (t >>> 14)) >>> 0) / 4294967296) * n);
  };
}

/** Deployments each deployment calls (service graph of the `realistic` scenario). */
const CALLEES = 3;

/**
 * One batch of FLOWS flows. Each end: 90% a pod, 5% a node address, 5% an
 * internet address (source too: replies and node-level traffic). `realistic`:
 * a pod destination is a random pod of one of the CALLEES deployments its
 * source's deployment calls (pods spread over the zones, so about a third of
 * pod traffic stays in its zone); `uniform`: any pod talks to any pod, so
 * roll-up by workload hardly merges anything (the worst case). Pods are picked
 * uniformly among all 10k. (An earlier generator's float LCG lost precision
 * and cycled through only ~700 pods; this one uses them all.)
 */
function makeBatch(cluster: SyntheticCluster, seed: number, scenario: Scenario): FlowBatch {
  const rnd = random(seed);
  const pods = cluster.podAddresses;
  const perDeployment = 10; // as in syntheticCluster: pod i belongs to deployment floor(i / 10)
  const deployments = Math.ceil(pods.length / perDeployment);
  const other = (k: number): string => (k < 95 ? cluster.nodeAddresses[rnd(cluster.nodeAddresses.length)]! : `34.${rnd(256)}.${rnd(256)}.${rnd(256)}`);
  const records: FlowRecord[] = new Array(FLOWS);
  for (let i = 0; i < FLOWS; i++) {
    const ks = rnd(100);
    const srcPod = rnd(pods.length);
    const src = ks < 90 ? pods[srcPod]! : other(ks);
    const kd = rnd(100);
    let dst: string;
    if (kd >= 90) dst = other(kd);
    else if (scenario === 'uniform') dst = pods[rnd(pods.length)]!;
    else dst = pods[Math.min(pods.length - 1, callee(Math.floor(srcPod / perDeployment), rnd(CALLEES), deployments) * perDeployment + rnd(perDeployment))]!;
    records[i] = { src: { address: src, port: 30000 + rnd(30000) }, dst: { address: dst, port: 443 }, transport: 'tcp', ipFamily: 'ipv4', bytes: 1 + rnd(100_000), packets: 1 + rnd(100) };
  }
  return { start: 0, end: 10_000, records };
}

/** The same flows as columns, as the kernel receivers hand them on. */
function asColumns(batch: FlowBatch): FlowBatch {
  return new ColumnBatch(batch.start, batch.end, columnsFromRecords(batch.records));
}

/** The `n`th deployment deployment `d` calls (a fixed pseudo-random service graph). */
function callee(d: number, n: number, deployments: number): number {
  return (Math.imul(d * CALLEES + n + 1, 2654435761) >>> 0) % deployments;
}

type Scenario = 'realistic' | 'uniform';

/** kubezonnet-style: full cached objects, per end one pod lookup by IP plus node and ReplicaSet lookups by name. */
class InformerCacheResolver implements FlowConsumer {
  readonly capabilities = MUTATES_DATA;
  readonly #podsByIp = new Map<string, any>();
  readonly #nodes = new Map<string, any>();
  readonly #nodesByIp = new Map<string, any>();
  readonly #replicasets = new Map<string, any>();
  readonly #next: FlowConsumer;
  constructor(cluster: SyntheticCluster, next: FlowConsumer) {
    this.#next = next;
    for (const p of cluster.pods) for (const ip of (p as any).status.podIPs) this.#podsByIp.set(ip.ip, structuredClone(p));
    for (const n of cluster.nodes) {
      this.#nodes.set(n.metadata.name, n);
      for (const a of (n as any).status.addresses) if (a.type === 'InternalIP') this.#nodesByIp.set(a.address, n);
    }
    for (const rs of cluster.replicasets) this.#replicasets.set(`${rs.metadata.namespace}/${rs.metadata.name}`, rs);
  }
  #endpoint(ep: any): void {
    const pod = this.#podsByIp.get(ep.address);
    if (pod) {
      ep.namespace = pod.metadata.namespace;
      ep.pod = pod.metadata.name;
      const ref = pod.metadata.ownerReferences?.find((r: any) => r.controller);
      if (ref?.kind === 'ReplicaSet') {
        const rs = this.#replicasets.get(`${pod.metadata.namespace}/${ref.name}`);
        const dep = rs?.metadata.ownerReferences?.find((r: any) => r.controller && r.kind === 'Deployment');
        ep.workloadKind = dep ? 'Deployment' : 'ReplicaSet';
        ep.workloadName = dep ? dep.name : ref.name;
      } else {
        ep.workloadKind = ref?.kind ?? 'Pod';
        ep.workloadName = ref?.name ?? pod.metadata.name;
      }
      const node = this.#nodes.get(pod.spec.nodeName);
      ep.node = pod.spec.nodeName;
      const labels = node?.metadata.labels ?? {};
      const zone = labels['topology.kubernetes.io/zone'] ?? labels['failure-domain.beta.kubernetes.io/zone'];
      const region = labels['topology.kubernetes.io/region'] ?? labels['failure-domain.beta.kubernetes.io/region'];
      if (zone) ep.zone = zone;
      if (region) ep.region = region;
      ep.hostNetwork = pod.spec.hostNetwork === true;
      return;
    }
    const node = this.#nodesByIp.get(ep.address);
    if (node) {
      ep.node = node.metadata.name;
      ep.workloadKind = 'Node';
      ep.workloadName = node.metadata.name;
      ep.zone = node.metadata.labels['topology.kubernetes.io/zone'];
      ep.region = node.metadata.labels['topology.kubernetes.io/region'];
      ep.hostNetwork = true;
    }
  }
  async consume(batch: FlowBatch): Promise<void> {
    for (const r of batch.records) {
      this.#endpoint(r.src);
      this.#endpoint(r.dst);
    }
    await this.#next.consume(batch);
  }
}

function chain(first: (next: FlowConsumer) => FlowConsumer, full: boolean, sink: FlowConsumer): FlowConsumer {
  if (!full) return first(sink);
  return first(crosszoneThenAggregate(sink));
}

function crosszoneThenAggregate(sink: FlowConsumer): FlowConsumer {
  return crosszone(aggregateOnly(sink));
}

function crosszone(next: FlowConsumer): FlowConsumer {
  return crosszoneProcessorFactory.create(testSettings('crosszone', 'processor'), crosszoneProcessorFactory.configSchema.parse({}), next);
}

function aggregateOnly(sink: FlowConsumer): FlowConsumer {
  return aggregateProcessorFactory.create(testSettings('aggregate', 'processor'), aggregateProcessorFactory.configSchema.parse({ by: 'workload' }), sink);
}

/** Keeps the last batch it was given (to feed a later stage on its own). */
class Capture implements FlowConsumer {
  readonly capabilities = READ_ONLY;
  batch: FlowBatch | undefined;
  async consume(batch: FlowBatch): Promise<void> {
    this.batch = batch;
  }
}

interface Rate {
  cpu: number;
  wall: number;
}

/**
 * Times `head.consume` on ROUNDS batches after 2 warm-up batches; `prepare`
 * (not timed) makes each batch, e.g. a fresh batch already resolved by the
 * stages upstream of the one measured.
 */
async function throughput(label: string, head: FlowConsumer, sink: Sink, prepare: (seed: number) => Promise<FlowBatch>): Promise<Rate> {
  for (let i = 0; i < 2; i++) await head.consume(await prepare(1000 + i));
  const wall: number[] = [];
  const cpu: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    const batch = await prepare(i + 1);
    gc!();
    // Let the concurrent sweeper finish after the forced GC (it sweeps the batch
    // generator's garbage on helper threads, which process.cpuUsage would count).
    // Collections the measured code itself causes still happen in the timed part.
    await sleep(50);
    const c0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    await head.consume(batch);
    wall.push(Number(process.hrtime.bigint() - t0) / 1e9);
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / 1e6);
  }
  // Medians. CPU time (all threads of this process, GC helpers included) is the
  // figure to read on a shared machine; wall time also counts waiting for neighbours.
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
  const rate = { cpu: FLOWS / median(cpu), wall: FLOWS / median(wall) };
  const best = Math.min(...cpu);
  rows.push([label, `${(rate.cpu / 1e6).toFixed(2)} M/s`, `${(rate.wall / 1e6).toFixed(2)} M/s`, `${(median(cpu) * 1000).toFixed(1)} ms`, `${(median(wall) * 1000).toFixed(1)} ms`, `${(FLOWS / best / 1e6).toFixed(2)} M/s`, String(sink.lastOut)]);
  return rate;
}

const rows: string[][] = [];

// ---- 1. throughput ----
const cluster = syntheticCluster(PODS, 30, 3);
const inventoryFile = join(dir, 'inventory.yaml');
writeFileSync(
  inventoryFile,
  stringify({
    nodes: cluster.nodes.map((n: any) => ({ name: n.metadata.name, zone: n.metadata.labels['topology.kubernetes.io/zone'], region: 'region-1', addresses: n.status.addresses.filter((a: any) => a.type === 'InternalIP').map((a: any) => a.address) })),
    pods: cluster.pods.map((p: any) => ({ namespace: p.metadata.namespace, name: p.metadata.name, workload: { kind: 'Deployment', name: p.metadata.ownerReferences[0].name.replace(/-5f7c9d$/, '') }, node: p.spec.nodeName, addresses: p.status.podIPs.map((x: any) => x.ip) })),
  }),
);
const k8sattributes = (next: FlowConsumer) => new K8sAttributesProcessor(testSettings('k8sattributes', 'processor'), configSchema.parse({ source: 'static', inventory: inventoryFile }), next);
const results: Record<string, Rate> = {};
const scenarios: Scenario[] = process.env.ZT_BENCH_QUICK ? ['realistic'] : ['realistic', 'uniform'];
for (const scenario of scenarios) {
  rows.push([`-- ${scenario === 'realistic' ? 'realistic: each deployment calls 3 others' : 'uniform: any pod to any pod (worst case for roll-up)'} --`]);
  const fresh = async (seed: number) => asColumns(makeBatch(cluster, seed, scenario));
  const freshRecords = async (seed: number) => makeBatch(cluster, seed, scenario);
  // Upstream stages for the per-stage rows, not timed.
  const resolvedCapture = new Capture();
  const resolver = k8sattributes(resolvedCapture);
  await resolver.start();
  const classifiedCapture = new Capture();
  const classifier = k8sattributes(crosszone(classifiedCapture));
  await classifier.start();
  const resolvedBatch = async (seed: number) => (await resolver.consume(await fresh(seed)), resolvedCapture.batch!);
  const classifiedBatch = async (seed: number) => (await classifier.consume(await fresh(seed)), classifiedCapture.batch!);
  for (const [key, label, build, prepare] of [
    ['k8s', 'k8sattributes alone', (sink: Sink) => k8sattributes(sink), fresh],
    ['k8s records', 'k8sattributes alone, records in (before columns)', (sink: Sink) => k8sattributes(sink), freshRecords],
    ['crosszone', 'crosszone alone (input resolved)', (sink: Sink) => crosszone(sink), resolvedBatch],
    ['aggregate', 'aggregate by workload alone (input resolved, classified)', (sink: Sink) => aggregateOnly(sink), classifiedBatch],
    ['chain', 'k8sattributes -> crosszone -> aggregate  (GOAL >= 1M/s)', (sink: Sink) => chain(k8sattributes, true, sink), fresh],
    ['chain records', 'k8sattributes -> crosszone -> aggregate, records in (before columns)', (sink: Sink) => chain(k8sattributes, true, sink), freshRecords],
    ['baseline', 'baseline: informer-cache lookups alone', (sink: Sink) => new InformerCacheResolver(cluster, sink), freshRecords],
    ['baseline chain', 'baseline: informer-cache lookups -> crosszone -> aggregate', (sink: Sink) => chain((next) => new InformerCacheResolver(cluster, next), true, sink), freshRecords],
  ] as const) {
    const sink = new Sink();
    const head = build(sink);
    if (head instanceof K8sAttributesProcessor) await head.start();
    results[`${scenario} ${key}`] = await throughput(label, head, sink, prepare);
    if (head instanceof K8sAttributesProcessor) await head.shutdown();
  }
  {
    // The same, with every Deployment behind a Service (its EndpointSlice in the directory): the Service lookup of each destination.
    const sink = new Sink();
    const head = k8sattributes(sink);
    await head.start();
    for (const slice of cluster.endpointslices as any[]) {
      const addresses = slice.endpoints.flatMap((e: any) => e.addresses);
      head.directory!.services.upsertSlice(slice.metadata.namespace, slice.metadata.name, slice.metadata.labels['kubernetes.io/service-name'], addresses, [{ port: 443, transport: 'tcp' }]);
    }
    results[`${scenario} k8s services`] = await throughput(`k8sattributes alone, ${cluster.services.length} Services`, head, sink, fresh);
    await head.shutdown();
  }
  await resolver.shutdown();
  await classifier.shutdown();
}

// ---- 1b. 10k external prefixes (an AWS ip-ranges.json file), realistic traffic ----
const EXTERNAL_PREFIXES = 10_000;
const rangesFile = join(dir, 'ip-ranges.json');
writeFileSync(rangesFile, JSON.stringify(syntheticAwsRanges(EXTERNAL_PREFIXES)));
const withRanges = (next: FlowConsumer) =>
  new K8sAttributesProcessor(testSettings('k8sattributes', 'processor'), configSchema.parse({ source: 'static', inventory: inventoryFile, external_ranges: [{ provider: 'aws', path: rangesFile }] }), next);
rows.push([`-- realistic, with ${EXTERNAL_PREFIXES} external prefixes loaded (AWS ip-ranges.json format; the 5% internet ends fall in them) --`]);
for (const [key, label, build] of [
  ['k8s', `k8sattributes alone, ${EXTERNAL_PREFIXES} external prefixes`, (sink: Sink) => withRanges(sink)],
  ['chain', `k8sattributes -> crosszone -> aggregate, ${EXTERNAL_PREFIXES} external prefixes`, (sink: Sink) => chain(withRanges, true, sink)],
] as const) {
  const sink = new Sink();
  const head = build(sink);
  if (head instanceof K8sAttributesProcessor) await head.start();
  results[`external ${key}`] = await throughput(label, head, sink, async (seed) => asColumns(makeBatch(cluster, seed, 'realistic')));
  if (head instanceof K8sAttributesProcessor) await head.shutdown();
}

/**
 * An ip-ranges.json of `n` prefixes shaped like AWS's: mostly IPv4 from /12
 * to /28 (many lengths, so a lookup tries many), a fifth IPv6 /40 to /64;
 * the IPv4 ones in 34.0.0.0/8, where the batches' internet ends are.
 */
function syntheticAwsRanges(n: number) {
  const rnd = random(7);
  const regions = ['us-east-1', 'us-west-2', 'eu-west-1', 'ap-southeast-1'];
  const services = ['AMAZON', 'EC2', 'S3', 'CLOUDFRONT', 'DYNAMODB'];
  const prefixes: object[] = [];
  const ipv6: object[] = [];
  for (let i = 0; i < n; i++) {
    const region = regions[rnd(regions.length)]!;
    const service = services[rnd(services.length)]!;
    if (i % 5 === 4) {
      const len = 40 + rnd(25);
      ipv6.push({ ipv6_prefix: `2600:1f${(16 + rnd(200)).toString(16)}:${rnd(65536).toString(16)}::/${len}`, region, service, network_border_group: region });
    } else {
      const len = 12 + rnd(17);
      const a = (34 << 24) | (rnd(256) << 16) | (rnd(256) << 8) | rnd(256);
      const net = len === 0 ? 0 : (a >>> (32 - len)) << (32 - len);
      prefixes.push({ ip_prefix: `${net >>> 24}.${(net >>> 16) & 255}.${(net >>> 8) & 255}.${net & 255}/${len}`, region, service, network_border_group: region });
    }
  }
  return { syncToken: '0', createDate: '2026-12-01-00-00-00', prefixes, ipv6_prefixes: ipv6 };
}

// ---- 2. memory per pod ----
async function fakeServer(pods: number, services = true): Promise<{ child: ChildProcess; url: string }> {
  const args = [join(import.meta.dirname, '../test/kube-api/serve.ts'), '--pods', String(pods), ...(services ? [] : ['--no-services'])];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  const line = await new Promise<string>((resolve, reject) => {
    createInterface(child.stdout!).once('line', resolve);
    child.once('exit', (code) => reject(new Error(`fake API server exited ${code}`)));
  });
  return { child, url: JSON.parse(line).url };
}

/**
 * Heap used by a k8sattributes processor after its first sync with the fake
 * API server at `url`, and the sync time: measured in a process of its own
 * (bench/k8sattributes-heap.ts, warmed up on `warmUrl` first, heap settled
 * before and after), so two measurements never share a heap.
 */
async function syncedHeap(warmUrl: string, url: string, pods: number): Promise<{ bytes: number; syncMs: number; services: number }> {
  const child = spawn(process.execPath, ['--expose-gc', join(import.meta.dirname, 'k8sattributes-heap.ts'), '--warm', warmUrl, '--url', url, '--pods', String(pods)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const line = await new Promise<string>((resolve, reject) => {
    createInterface(child.stdout!).once('line', resolve);
    child.once('exit', (code) => reject(new Error(`bench/k8sattributes-heap.ts exited ${code}`)));
  });
  const measured = JSON.parse(line) as { bytes: number; syncMs: number; pods: number; services: number };
  if (measured.pods !== pods) throw new Error(`synced ${measured.pods} of ${pods} pods`);
  return measured;
}

/** Heap used by the library's ListWatch caching every full object of `resource` (the baseline), measured as syncedHeap() is. */
async function listWatchHeap(warmUrl: string, url: string, pods: number, resource: 'pods' | 'services' | 'endpointslices'): Promise<{ bytes: number; objects: number }> {
  const child = spawn(process.execPath, ['--expose-gc', join(import.meta.dirname, 'k8sattributes-heap.ts'), '--warm', warmUrl, '--url', url, '--pods', String(pods), '--baseline', resource], { stdio: ['ignore', 'pipe', 'inherit'] });
  const line = await new Promise<string>((resolve, reject) => {
    createInterface(child.stdout!).once('line', resolve);
    child.once('exit', (code) => reject(new Error(`bench/k8sattributes-heap.ts --baseline ${resource} exited ${code}`)));
  });
  return JSON.parse(line) as { bytes: number; objects: number };
}

const memoryRows: string[][] = [];
const serviceRows: string[][] = [];
let perService: { ours: number; baseline: number } | undefined;
// Each measurement process first syncs with this small cluster, so code loading and compiling is not counted.
const warm = process.env.ZT_BENCH_QUICK ? undefined : await fakeServer(1000);
for (const pods of process.env.ZT_BENCH_QUICK ? [] : [10_000, 100_000]) {
  // Per Service, 10k pods: the same cluster without Services and EndpointSlices first, then with them; the difference.
  let without: Awaited<ReturnType<typeof syncedHeap>> | undefined;
  if (pods === 10_000) {
    const bare = await fakeServer(pods, false);
    try {
      without = await syncedHeap(warm!.url, bare.url, pods);
    } finally {
      bare.child.kill('SIGTERM');
    }
  }
  const { child, url } = await fakeServer(pods);
  try {
    const synced = await syncedHeap(warm!.url, url, pods);
    memoryRows.push([`k8sattributes (kubernetes source), ${pods} pods, ${synced.services} Services`, `${(synced.bytes / pods).toFixed(0)} B/pod`, `${(synced.bytes / 2 ** 20).toFixed(1)} MiB`, `first sync ${(synced.syncMs / 1000).toFixed(1)} s`]);
    if (without !== undefined) {
      memoryRows.push([`k8sattributes (kubernetes source), ${pods} pods, no Services`, `${(without.bytes / pods).toFixed(0)} B/pod`, `${(without.bytes / 2 ** 20).toFixed(1)} MiB`, `first sync ${(without.syncMs / 1000).toFixed(1)} s`]);
      const services = await listWatchHeap(warm!.url, url, pods, 'services');
      const slices = await listWatchHeap(warm!.url, url, pods, 'endpointslices');
      perService = { ours: (synced.bytes - without.bytes) / synced.services, baseline: (services.bytes + slices.bytes) / services.objects };
      serviceRows.push([`k8sattributes: ${synced.services} Services of 10 pods, one EndpointSlice each (with - without)`, `${perService.ours.toFixed(0)} B/Service`, `${((synced.bytes - without.bytes) / 2 ** 20).toFixed(2)} MiB`]);
      serviceRows.push([`baseline: client-node ListWatch, full Service + EndpointSlice objects`, `${perService.baseline.toFixed(0)} B/Service`, `${((services.bytes + slices.bytes) / 2 ** 20).toFixed(2)} MiB`]);
      // Baseline: the library's informer as documented (makeInformer/ListWatch, full objects cached).
      const t1 = Date.now();
      const full = await listWatchHeap(warm!.url, url, pods, 'pods');
      if (full.objects !== pods) throw new Error(`baseline cached ${full.objects} pods`);
      memoryRows.push([`baseline: client-node ListWatch, full objects, ${pods} pods`, `${(full.bytes / pods).toFixed(0)} B/pod`, `${(full.bytes / 2 ** 20).toFixed(1)} MiB`, `first sync ${((Date.now() - t1) / 1000).toFixed(1)} s`]);
    }
  } finally {
    child.kill('SIGTERM');
  }
}
warm?.child.kill('SIGTERM');
rmSync(dir, { recursive: true, force: true });

const print = (title: string, header: string[], body: string[][]) => {
  const all = [header, ...body];
  // One-cell rows are section titles: printed as they are, not counted in the widths.
  const widths = header.map((_, i) => Math.max(...all.filter((r) => r.length > 1).map((r) => (r[i] ?? '').length)));
  console.log(`\n${title}`);
  for (const r of all) console.log(r.length === 1 ? r[0] : r.map((c, i) => (c ?? '').padEnd(widths[i]!)).join('  '));
};
print(
  `Throughput: ${PODS} pods, ${FLOWS} flows per batch (ends: 90% pods, 5% node addresses, 5% internet), median of ${ROUNDS} batches, one thread`,
  ['pipeline', 'records/CPU-s', 'records/wall-s', 'CPU per batch', 'wall per batch', 'best batch, records/CPU-s', 'records out'],
  rows,
);
console.log(
  'Medians unless said otherwise. records/CPU-s counts every thread of the process (GC helpers too), so it is the single-core figure; wall time also\n' +
    `counts waiting for other processes; "best batch" is the least CPU time of the ${ROUNDS}, for a loaded machine (load average now ${loadavg().map((l) => l.toFixed(1)).join(' ')} on ${availableParallelism()} CPUs).`,
);
for (const scenario of scenarios) {
  const r = (k: string) => results[`${scenario} ${k}`]!;
  console.log(
    `${scenario}: chain ${(r('chain').cpu / 1e6).toFixed(2)} M records/CPU-s (goal >= 1M: ${r('chain').cpu >= 1e6 ? 'met' : 'NOT met'}), ${(r('chain').wall / 1e6).toFixed(2)} M records/wall-s; ` +
      `speed-up over baseline: alone ${(r('k8s').cpu / r('baseline').cpu).toFixed(2)}x, chain ${(r('chain').cpu / r('baseline chain').cpu).toFixed(2)}x; ` +
      `columns in over records in: alone ${(r('k8s').cpu / r('k8s records').cpu).toFixed(2)}x, chain ${(r('chain').cpu / r('chain records').cpu).toFixed(2)}x; ` +
      `k8sattributes alone with ${cluster.services.length} Services: ${(r('k8s services').cpu / 1e6).toFixed(2)} M records/CPU-s (without: ${(r('k8s').cpu / 1e6).toFixed(2)} M)`,
  );
}
for (const scenario of scenarios) {
  const r = (k: string) => results[`${scenario} ${k}`]!;
  result({
    measure: `k8sattributes -> crosszone -> aggregate, ${PODS} pods, ${FLOWS} flows/batch, ${scenario} traffic`,
    value: `${(r('chain').cpu / 1e6).toFixed(2)} M records/CPU-s`,
    baseline: `informer-cache lookups: ${(r('baseline chain').cpu / 1e6).toFixed(2)} M`,
    goal: goal('>= 1M records/CPU-s', r('chain').cpu >= 1e6),
  });
}
for (const scenario of scenarios) {
  const r = (k: string) => results[`${scenario} ${k}`]!;
  result({
    measure: `k8sattributes alone, columns in (kernel receivers' drains), ${PODS} pods, ${FLOWS} flows/batch, ${scenario} traffic`,
    value: `${(r('k8s').cpu / 1e6).toFixed(2)} M records/CPU-s`,
    baseline: `records in: ${(r('k8s records').cpu / 1e6).toFixed(2)} M`,
  });
}
{
  const base = results['realistic k8s']!;
  const ext = results['external k8s']!;
  result({
    measure: `k8sattributes alone with ${EXTERNAL_PREFIXES} external prefixes, ${PODS} pods, ${FLOWS} flows/batch, realistic traffic`,
    value: `${(ext.cpu / 1e6).toFixed(2)} M records/CPU-s`,
    baseline: `no external prefixes: ${(base.cpu / 1e6).toFixed(2)} M`,
    goal: goal('>= 1M records/CPU-s', ext.cpu >= 1e6),
  });
}
print('Memory after first sync, heap used after gc (goal < 1 KiB per pod)', ['source', 'per pod', 'total', 'sync'], memoryRows);
for (const row of memoryRows.filter((m) => m.length > 1 && !m[0]!.startsWith('baseline') && !m[0]!.endsWith('no Services'))) {
  result({ measure: `k8sattributes memory, ${row[0]}`, value: row[1]!, baseline: memoryRows.find((m) => m[0]!.startsWith('baseline'))?.[1], goal: goal('< 1 KiB/pod', parseFloat(row[1]!) < 1024) });
}
print('Memory per Service (Service + its EndpointSlice of 10 endpoints), heap used after gc', ['source', 'per Service', 'total'], serviceRows);
if (perService) {
  result({
    measure: 'k8sattributes memory per Service (1,000 Services of 10 pods, one EndpointSlice each)',
    value: `${perService.ours.toFixed(0)} B/Service`,
    baseline: `client-node ListWatch, full objects: ${perService.baseline.toFixed(0)} B/Service`,
  });
}
process.exit(0);
