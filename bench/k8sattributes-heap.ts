/**
 * One memory measurement of bench/k8sattributes.bench.ts, in a process of its
 * own (`node --expose-gc bench/k8sattributes-heap.ts --warm URL --url URL
 * --pods N`): a k8sattributes processor syncs once with the fake API server
 * at --warm (loads and compiles the client and processor code, which would
 * otherwise be counted), stops; then the heap is settled, the processor syncs
 * with --url, and the heap is settled again. Prints one JSON line: {bytes,
 * syncMs, pods, services}. A fresh process per measurement, so that what one
 * sync leaves behind (sockets closing, code, caches) is not subtracted from
 * the next: the per-Service figure is the difference of two such runs.
 *
 * With `--baseline pods|services|endpointslices`: the same for the baseline,
 * @kubernetes/client-node's ListWatch caching every full object of that
 * resource; prints {bytes, objects}.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { CoreV1Api, DiscoveryV1Api, KubeConfig, ListWatch, Watch, type KubernetesObject } from '@kubernetes/client-node';
import { READ_ONLY, type FlowConsumer } from '../pipeline/component.ts';
import { configSchema } from '../processors/k8sattributes/config.ts';
import { K8sAttributesProcessor } from '../processors/k8sattributes/processor.ts';
import { testSettings } from '../test/support/components.ts';
import { sleep } from '../test/support/poll.ts';

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) {
  console.error('run with --expose-gc');
  process.exit(2);
}
const { values } = parseArgs({ options: { warm: { type: 'string' }, url: { type: 'string' }, pods: { type: 'string' }, baseline: { type: 'string' } } });
if (!values.warm || !values.url || !values.pods) {
  console.error('usage: node --expose-gc bench/k8sattributes-heap.ts --warm URL --url URL --pods N [--baseline pods|services|endpointslices]');
  process.exit(2);
}
const dir = mkdtempSync(join(tmpdir(), 'zt-bench-k8sheap-'));
const sink: FlowConsumer = { capabilities: READ_ONLY, consume: async () => {} };

function kubeconfigFor(url: string): string {
  const file = join(dir, `kubeconfig-${url.split(':').pop()}`);
  writeFileSync(file, `apiVersion: v1\nkind: Config\nclusters:\n- name: b\n  cluster: {server: "${url}", insecure-skip-tls-verify: true}\nusers:\n- name: u\n  user: {}\ncontexts:\n- name: b\n  context: {cluster: b, user: u}\ncurrent-context: b\n`);
  return file;
}

const processor = (url: string) => new K8sAttributesProcessor(testSettings('k8sattributes', 'processor'), configSchema.parse({ kubeconfig: kubeconfigFor(url), sync_timeout: '300s', namespace_labels: ['team'] }), sink);

/**
 * Heap used once collections stop freeing anything: gc until three passes in
 * a row move it by less than 16 KiB (what a stopped watch still holds is let
 * go over several collections, some after its socket closes).
 */
async function settledHeap(): Promise<number> {
  let last = Infinity;
  let steady = 0;
  for (let i = 0; i < 50 && steady < 3; i++) {
    gc!();
    await sleep(20);
    const now = process.memoryUsage().heapUsed;
    steady = Math.abs(now - last) < 16 << 10 ? steady + 1 : 0;
    last = now;
  }
  return last;
}

type Page = { items: KubernetesObject[]; metadata?: { _continue?: string } };

/** The library's ListWatch over `resource` at `url`, every page listed, started; and how to stop it. */
async function listWatch(url: string, resource: string): Promise<{ objects: number; stop: () => Promise<void> }> {
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfigFor(url));
  const core = kc.makeApiClient(CoreV1Api);
  const discovery = kc.makeApiClient(DiscoveryV1Api);
  const lists: Record<string, [string, (cont: string | undefined) => Promise<Page>]> = {
    pods: ['/api/v1/pods', (c) => core.listPodForAllNamespaces({ limit: 500, _continue: c })],
    services: ['/api/v1/services', (c) => core.listServiceForAllNamespaces({ limit: 500, _continue: c })],
    endpointslices: ['/apis/discovery.k8s.io/v1/endpointslices', (c) => discovery.listEndpointSliceForAllNamespaces({ limit: 500, _continue: c })],
  };
  const [path, list] = lists[resource] ?? (console.error(`unknown --baseline ${resource}`), process.exit(2));
  const lw = new ListWatch<KubernetesObject>(path, new Watch(kc), async () => {
    const first = await list(undefined);
    const items = [...first.items];
    for (let cont = first.metadata?._continue; cont; ) {
      const page = await list(cont);
      items.push(...page.items);
      cont = page.metadata?._continue;
    }
    return { ...first, items } as never;
  }, false);
  await lw.start();
  return { objects: lw.list().length, stop: () => lw.stop() };
}

if (values.baseline) {
  const warmed = await listWatch(values.warm, values.baseline);
  await warmed.stop();
  const before = await settledHeap();
  const measured = await listWatch(values.url, values.baseline);
  const bytes = (await settledHeap()) - before;
  console.log(JSON.stringify({ bytes, objects: measured.objects }));
  rmSync(dir, { recursive: true, force: true });
  process.exit(0);
}

const warm = processor(values.warm);
await warm.start();
await warm.shutdown();
const before = await settledHeap();
const t0 = Date.now();
const proc = processor(values.url);
await proc.start();
const syncMs = Date.now() - t0;
const bytes = (await settledHeap()) - before;
const pods = proc.directory!.podCount;
const services = proc.directory!.services.serviceCount;
console.log(JSON.stringify({ bytes, syncMs, pods, services }));
await proc.shutdown();
rmSync(dir, { recursive: true, force: true });
process.exit(0);
