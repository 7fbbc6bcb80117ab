/**
 * Source `kubernetes`: list + watch pods, nodes, replicasets and jobs with
 * @kubernetes/client-node's ListWatch and write them into the AddressDirectory.
 *
 * - Objects are cut down to the few fields zonetap needs before the library
 *   caches them (a wrapped Watch and list function apply the transform), so the
 *   library's cache costs ~100 bytes per pod.
 * - The library relists by itself on 410 Gone, but stops for good after any
 *   other error (connection refused, 403, ...): each informer is restarted here
 *   with exponential backoff, resuming from its last resourceVersion.
 * - Watches ask for bookmarks, so a quiet watch still advances its version.
 */
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { AppsV1Api, BatchV1Api, CoreV1Api, KubeConfig, ListWatch, Watch, type KubernetesObject } from '@kubernetes/client-node';
import { ZonetapError } from '../../pipeline/errors.ts';
import type { AddressDirectory } from './directory.ts';

export interface KubernetesSourceOptions {
  /** Explicit kubeconfig path; otherwise in-cluster, $KUBECONFIG, ~/.kube/config. */
  kubeconfig?: string;
  /** Watch only this node's pods (resolve: local). */
  nodeName?: string;
  localPodsOnly: boolean;
  syncTimeoutMs: number;
  /** Restart backoff after an informer error: first delay and cap. Defaults 1 s and 30 s. */
  backoffInitialMs?: number;
  backoffMaxMs?: number;
  /** Page size of the initial lists. Default 500 (as kubectl). */
  pageSize?: number;
}

interface Slim extends KubernetesObject {
  metadata: { name: string; namespace?: string; resourceVersion?: string };
}

const ZONE_LABELS = ['topology.kubernetes.io/zone', 'failure-domain.beta.kubernetes.io/zone'];
const REGION_LABELS = ['topology.kubernetes.io/region', 'failure-domain.beta.kubernetes.io/region'];

/** Finds the kubeconfig as processors/k8sattributes/README.md says: explicit path, in-cluster, $KUBECONFIG, ~/.kube/config. */
export function loadKubeConfig(path: string | undefined): { config: KubeConfig; origin: string } {
  const config = new KubeConfig();
  const fail = (message: string, cause?: unknown) => new ZonetapError('ZT_KUBERNETES', message, { cause });
  const fromFile = (file: string, what: string) => {
    if (!existsSync(file)) {
      throw fail(`kubeconfig "${file}" (${what}) does not exist: fix the path, or use source: static with an inventory file`);
    }
    try {
      config.loadFromFile(file);
    } catch (err) {
      throw fail(`kubeconfig "${file}" (${what}) could not be read: ${(err as Error).message}`, err);
    }
    if (!config.getCurrentCluster()) throw fail(`kubeconfig "${file}" (${what}) has no current context with a cluster: set current-context`);
    return { config, origin: `kubeconfig "${file}"` };
  };
  if (path) return fromFile(path, 'processors::k8sattributes::kubeconfig');
  if (process.env.KUBERNETES_SERVICE_HOST && existsSync('/var/run/secrets/kubernetes.io/serviceaccount/token')) {
    config.loadFromCluster();
    return { config, origin: 'in-cluster service account' };
  }
  if (process.env.KUBECONFIG) return fromFile(process.env.KUBECONFIG.split(':')[0]!, '$KUBECONFIG');
  const home = join(homedir(), '.kube', 'config');
  if (existsSync(home)) return fromFile(home, 'default ~/.kube/config');
  throw fail(
    'no Kubernetes configuration found: not running in a cluster, $KUBECONFIG is unset and ~/.kube/config does not exist; ' +
      'set processors::k8sattributes::kubeconfig, or use source: static with an inventory file',
  );
}

/** "connect ECONNREFUSED 127.0.0.1:1" rather than "fetch failed". */
export function describeError(err: unknown): string {
  const parts: string[] = [];
  let cur: any = err;
  for (let depth = 0; cur && depth < 5; depth++) {
    if (cur instanceof AggregateError && cur.errors.length) cur = cur.errors[0];
    if (typeof cur.code === 'number' && 'body' in cur) {
      // ApiException: the Status message the API server sent says more than the client's text.
      let body = cur.body;
      try {
        if (typeof body === 'string') body = JSON.parse(body);
      } catch {}
      parts.push(`HTTP ${cur.code}${body?.message ? `: ${body.message}` : ''}`);
      break;
    }
    const code = cur.code ?? cur.statusCode;
    const msg = String(cur.message ?? cur);
    if (msg && msg !== 'fetch failed' && !parts.includes(msg)) parts.push(code && !msg.includes(String(code)) ? `${msg} (${code})` : msg);
    cur = cur.cause;
  }
  return parts.join(': ') || String(err);
}

function hint(err: unknown): string {
  const text = describeError(err);
  if (/ECONNREFUSED|ENOTFOUND|EHOSTUNREACH|ETIMEDOUT|ECONNRESET|socket|other side closed/i.test(text)) {
    return 'check that the API server is running and that the kubeconfig points at it';
  }
  if (/\b(401|403)\b|Unauthorized|Forbidden/i.test(text)) {
    return 'grant zonetap list and watch on pods, nodes, replicasets and jobs (see deploy/)';
  }
  return 'retrying';
}

function timestamp(v: unknown): number {
  if (v instanceof Date) return v.getTime();
  const t = Date.parse(String(v ?? ''));
  return Number.isNaN(t) ? 0 : t;
}

function controllerOf(meta: any): { kind: string; name: string } | undefined {
  const refs: any[] | undefined = meta?.ownerReferences;
  if (!refs || refs.length === 0) return undefined;
  const ref = refs.find((r) => r.controller) ?? refs[0];
  return { kind: String(ref.kind), name: String(ref.name) };
}

type Transform = (obj: any) => Slim;

/** A Watch whose events carry transformed objects and that asks for bookmarks. */
class SlimWatch extends Watch {
  readonly #transform: Transform;
  constructor(config: KubeConfig, transform: Transform) {
    super(config);
    this.#transform = transform;
  }
  override watch(path: string, queryParams: Record<string, any>, callback: (phase: string, apiObj: any, watchObj?: any) => void, done: (err: any) => void): Promise<AbortController> {
    return super.watch(path, { ...queryParams, allowWatchBookmarks: true }, (phase, obj, raw) => {
      callback(phase, phase === 'ADDED' || phase === 'MODIFIED' || phase === 'DELETED' ? this.#transform(obj) : obj, raw);
    }, done);
  }
}

interface Informer {
  name: string;
  listWatch: ListWatch<Slim>;
  synced: boolean;
  failures: number;
  lastError: string | undefined;
}

type ResolvedOptions = Required<Omit<KubernetesSourceOptions, 'kubeconfig' | 'nodeName'>> & Pick<KubernetesSourceOptions, 'kubeconfig' | 'nodeName'>;

export class KubernetesSource {
  readonly #directory: AddressDirectory;
  readonly #logger: Logger;
  readonly #options: ResolvedOptions;
  readonly #informers: Informer[] = [];
  readonly #abort = new AbortController();
  #server = '';
  #origin = '';
  #ready = false;

  constructor(directory: AddressDirectory, logger: Logger, options: KubernetesSourceOptions) {
    this.#directory = directory;
    this.#logger = logger;
    // Spread only the options that are set: an explicit `undefined` must not override a default.
    const given = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined));
    this.#options = { backoffInitialMs: 1000, backoffMaxMs: 30_000, pageSize: 500, ...given } as ResolvedOptions;
  }

  /** True once pods, nodes, replicasets and jobs have each been listed once. */
  get ready(): boolean {
    return this.#ready;
  }

  /** The last error of each informer that is currently failing. */
  get errors(): string[] {
    return this.#informers.filter((i) => i.lastError).map((i) => `${i.name}: ${i.lastError}`);
  }

  /**
   * Loads the kubeconfig (throws ZonetapError when it is missing or unusable),
   * starts the informers and waits up to syncTimeoutMs for their first lists.
   * After the timeout it returns anyway, unready, and keeps trying.
   */
  async start(): Promise<void> {
    const { config, origin } = loadKubeConfig(this.#options.kubeconfig);
    this.#origin = origin;
    this.#server = config.getCurrentCluster()!.server;
    const core = config.makeApiClient(CoreV1Api);
    const apps = config.makeApiClient(AppsV1Api);
    const batch = config.makeApiClient(BatchV1Api);
    const dir = this.#directory;
    const pageSize = this.#options.pageSize;
    const podSelector = this.#options.localPodsOnly ? `spec.nodeName=${this.#options.nodeName}` : undefined;

    const transformPod: Transform = (p) => {
      const meta = p.metadata ?? {};
      const namespace = dir.intern(String(meta.namespace ?? 'default'));
      const owner = controllerOf(meta);
      const ips: string[] = (p.status?.podIPs ?? []).map((x: any) => String(x.ip));
      if (ips.length === 0 && p.status?.podIP) ips.push(String(p.status.podIP));
      const slim: Slim & { pod?: Parameters<AddressDirectory['upsertPod']>[0] } = {
        metadata: { name: String(meta.name), namespace, resourceVersion: meta.resourceVersion },
        pod: {
          namespace,
          name: String(meta.name),
          uid: meta.uid ? String(meta.uid) : undefined,
          nodeName: p.spec?.nodeName ? dir.intern(String(p.spec.nodeName)) : undefined,
          workload: owner ? dir.workload(namespace, owner.kind, owner.name) : undefined,
          hostNetwork: p.spec?.hostNetwork === true,
          addresses: ips,
          created: timestamp(meta.creationTimestamp),
        },
      };
      return slim;
    };
    const transformNode: Transform = (n) => {
      const labels = n.metadata?.labels ?? {};
      const pick = (keys: string[]) => keys.map((k) => labels[k]).find((v) => v !== undefined && v !== '');
      const addresses = (n.status?.addresses ?? []).filter((a: any) => a.type === 'InternalIP' || a.type === 'ExternalIP').map((a: any) => String(a.address));
      return { metadata: { name: String(n.metadata?.name), resourceVersion: n.metadata?.resourceVersion }, zone: pick(ZONE_LABELS), region: pick(REGION_LABELS), addresses } as Slim;
    };
    const transformController: Transform = (o) => ({
      metadata: { name: String(o.metadata?.name), namespace: String(o.metadata?.namespace ?? 'default'), resourceVersion: o.metadata?.resourceVersion },
      owner: controllerOf(o.metadata),
    }) as Slim;

    const pages = <T>(fetchPage: (cont: string | undefined) => Promise<{ metadata?: { resourceVersion?: string; _continue?: string }; items: T[] }>, transform: Transform) =>
      async () => {
        const items: Slim[] = [];
        let cont: string | undefined;
        let resourceVersion: string | undefined;
        do {
          const page = await fetchPage(cont);
          resourceVersion ??= page.metadata?.resourceVersion;
          for (const item of page.items) items.push(transform(item));
          cont = page.metadata?._continue || undefined;
        } while (cont);
        return { metadata: { resourceVersion }, items };
      };

    const upsertPod = (o: any) => {
      if (o.pod) dir.upsertPod(o.pod);
      o.pod = undefined;
    };
    const deletePod = (o: Slim) => dir.deletePod(o.metadata.namespace ?? 'default', o.metadata.name, Date.now());
    const upsertNode = (o: any) => dir.upsertNode(o.metadata.name, o.zone, o.region, o.addresses);
    const controller = (kind: string) => ({
      // A ReplicaSet rolls up to its controller (a Deployment, or e.g. an Argo Rollout), a Job to its CronJob (or other controller).
      upsert: (o: any) => dir.upsertController(o.metadata.namespace, kind, o.metadata.name, o.owner),
      remove: (o: Slim) => dir.deleteController(o.metadata.namespace ?? 'default', kind, o.metadata.name),
    });
    const rs = controller('ReplicaSet');
    const job = controller('Job');

    // Order does not matter: pods point at shared node and workload entries that fill in when those arrive.
    this.#add('nodes', config, '/api/v1/nodes', transformNode, pages((c) => core.listNode({ limit: pageSize, _continue: c }), transformNode), upsertNode, (o) => dir.deleteNode(o.metadata.name));
    this.#add('replicasets', config, '/apis/apps/v1/replicasets', transformController, pages((c) => apps.listReplicaSetForAllNamespaces({ limit: pageSize, _continue: c }), transformController), rs.upsert, rs.remove);
    this.#add('jobs', config, '/apis/batch/v1/jobs', transformController, pages((c) => batch.listJobForAllNamespaces({ limit: pageSize, _continue: c }), transformController), job.upsert, job.remove);
    this.#add('pods', config, '/api/v1/pods', transformPod, pages((c) => core.listPodForAllNamespaces({ limit: pageSize, _continue: c, fieldSelector: podSelector }), transformPod), upsertPod, deletePod, podSelector);

    const synced = Promise.all(this.#informers.map((i) => this.#run(i)));
    const stopWaiting = new AbortController();
    const onShutdown = () => stopWaiting.abort();
    this.#abort.signal.addEventListener('abort', onShutdown);
    const timeout = sleep(this.#options.syncTimeoutMs, 'timeout' as const, { signal: stopWaiting.signal }).catch(() => 'aborted' as const);
    const outcome = await Promise.race([synced.then(() => 'synced' as const), timeout]);
    stopWaiting.abort();
    this.#abort.signal.removeEventListener('abort', onShutdown);
    if (outcome === 'synced') {
      this.#ready = true;
      this.#logger.info({ pods: dir.podCount, nodes: dir.nodeCount, source: this.#origin }, 'k8sattributes: synced with the Kubernetes API');
    } else if (outcome === 'timeout') {
      this.#logger.warn(
        { server: this.#server, source: this.#origin, waiting: this.#informers.filter((i) => !i.synced).map((i) => i.name), errors: this.errors },
        `k8sattributes: not synced with the Kubernetes API at ${this.#server} after ${this.#options.syncTimeoutMs} ms; starting unready (addresses resolve as objects arrive) and retrying`,
      );
      void synced.then(() => {
        if (this.#abort.signal.aborted) return;
        this.#ready = true;
        this.#logger.info({ pods: dir.podCount, nodes: dir.nodeCount }, 'k8sattributes: synced with the Kubernetes API (late); ready');
      });
    }
  }

  async shutdown(): Promise<void> {
    this.#abort.abort();
    await Promise.all(this.#informers.map((i) => i.listWatch.stop()));
  }

  #add(name: string, config: KubeConfig, path: string, transform: Transform, list: () => Promise<any>, upsert: (o: Slim) => void, remove: (o: Slim) => void, fieldSelector?: string): void {
    const backoffMax = this.#options.backoffMaxMs;
    const listWatch = new ListWatch<Slim>(path, new SlimWatch(config, transform), list, false, undefined, fieldSelector, {
      // The library's own pause between watch reconnects, capped by our backoff limit.
      delayFn: (ms: number) => sleep(Math.min(ms, backoffMax), undefined, { ref: false }),
    });
    listWatch.on('add', upsert);
    listWatch.on('update', upsert);
    listWatch.on('delete', remove);
    this.#informers.push({ name, listWatch, synced: false, failures: 0, lastError: undefined });
  }

  /** Runs one informer until shutdown, restarting it with backoff after errors; resolves when it has listed once. */
  #run(informer: Informer): Promise<void> {
    const { listWatch } = informer;
    const signal = this.#abort.signal;
    let retrying = false;
    let resolveSynced!: () => void;
    const synced = new Promise<void>((resolve) => (resolveSynced = resolve));
    const fail = (err: unknown) => {
      if (retrying || signal.aborted) return;
      retrying = true;
      void retry(err);
    };
    listWatch.on('error', fail);
    const attempt = async () => {
      retrying = false;
      try {
        await listWatch.start();
      } catch (err) {
        fail(err);
      }
      if (retrying || signal.aborted) return;
      if (informer.failures > 0) this.#logger.info({ informer: informer.name }, `k8sattributes: ${informer.name} informer reconnected to ${this.#server}`);
      informer.failures = 0;
      informer.lastError = undefined;
      if (!informer.synced) {
        informer.synced = true;
        resolveSynced();
      }
    };
    const retry = async (err: unknown) => {
      await listWatch.stop();
      informer.failures++;
      const delay = Math.min(this.#options.backoffInitialMs * 2 ** (informer.failures - 1), this.#options.backoffMaxMs);
      informer.lastError = describeError(err);
      const message = `k8sattributes: cannot ${informer.synced ? 'watch' : 'list'} ${informer.name} from the Kubernetes API at ${this.#server} (${this.#origin}): ${informer.lastError}; ${hint(err)}; retrying in ${delay} ms`;
      const fields = { informer: informer.name, server: this.#server, attempt: informer.failures, retryInMs: delay };
      if (informer.failures === 1 || informer.failures % 10 === 0) this.#logger.error(fields, message);
      else this.#logger.debug(fields, message);
      try {
        await sleep(delay, undefined, { signal });
      } catch {
        return;
      }
      void attempt();
    };
    void attempt();
    return synced;
  }
}
