/**
 * Source `kubernetes`: list + watch pods, nodes, replicasets, jobs,
 * namespaces, Services and EndpointSlices
 * (list-watch.ts, over node:https: api-client.ts) and write them into the
 * AddressDirectory.
 *
 * - Objects are cut down to the few fields zonetap needs as they arrive; the
 *   informers keep only each object's namespace and name.
 * - An informer relists by itself on 410 Gone, but stops after any other
 *   error (connection refused, 403, ...): each is restarted here with
 *   exponential backoff, resuming from its last resourceVersion.
 * - Watches ask for bookmarks, so a quiet watch still advances its version.
 * - Health: each informer remembers when it last heard from the API server
 *   (a list, an accepted watch, or any watch event, bookmarks included). Watches ask the server
 *   to end them after unhealthy_after/2 (timeoutSeconds), and the API server
 *   sends a bookmark shortly before it does (and about every minute), so a
 *   quiet but healthy watch is heard from well within unhealthy_after; a dead,
 *   failing or hung one is not. `ready` is false while any informer has not
 *   been heard from for unhealthy_after.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { parseCidr, type Cidr } from '../../net/index.ts';
import { KubeApiClient } from './api-client.ts';
import type { ChosenLabels } from './chosen-labels.ts';
import { IGNORE_ANNOTATION, type AddressDirectory } from './directory.ts';
import type { SlicePort } from './services.ts';
import { describeError, hint, loadKubeConfig } from './kubeconfig.ts';
import { ListWatch, type ObjectName } from './list-watch.ts';

export interface KubernetesSourceOptions {
  /** Explicit kubeconfig path; otherwise in-cluster, $KUBECONFIG, ~/.kube/config. */
  kubeconfig?: string;
  /** Watch only this node's pods (resolve: local). */
  nodeName?: string;
  localPodsOnly: boolean;
  syncTimeoutMs: number;
  /** Not ready once an informer has not heard from the API server for this long. */
  unhealthyAfterMs: number;
  /** Restart backoff after an informer error: first delay and cap. Defaults 1 s and 30 s. */
  backoffInitialMs?: number;
  backoffMaxMs?: number;
  /** Page size of the initial lists. Default 500 (as kubectl). */
  pageSize?: number;
  /** pod_labels and namespace_labels: what each pod and namespace keeps of its labels. */
  podLabels: ChosenLabels;
  namespaceLabels: ChosenLabels;
}

/** The label an EndpointSlice names its Service with. */
const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';

/** Annotations that turn on topology-aware routing (Kubernetes 1.27+, and the older name before it). */
const TOPOLOGY_ANNOTATIONS = ['service.kubernetes.io/topology-mode', 'service.kubernetes.io/topology-aware-hints'];

/** True when a Service asks to be routed by zone: spec.trafficDistribution, or a topology annotation not Disabled. */
function routesByZone(o: any): boolean {
  if (typeof o.spec?.trafficDistribution === 'string' && o.spec.trafficDistribution !== '') return true;
  const annotations = o.metadata?.annotations ?? {};
  return TOPOLOGY_ANNOTATIONS.some((k) => typeof annotations[k] === 'string' && annotations[k] !== '' && annotations[k].toLowerCase() !== 'disabled');
}

interface Slim {
  metadata: ObjectName;
}

const ZONE_LABELS = ['topology.kubernetes.io/zone', 'failure-domain.beta.kubernetes.io/zone'];
const REGION_LABELS = ['topology.kubernetes.io/region', 'failure-domain.beta.kubernetes.io/region'];

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

interface Informer {
  name: string;
  listWatch: ListWatch<Slim>;
  synced: boolean;
  failures: number;
  lastError: string | undefined;
  /** When the API server was last heard from for this informer: a list, an accepted watch, or any watch event (ms since the epoch). */
  lastContact: number;
}

type ResolvedOptions = Required<Omit<KubernetesSourceOptions, 'kubeconfig' | 'nodeName'>> & Pick<KubernetesSourceOptions, 'kubeconfig' | 'nodeName'>;

export class KubernetesSource {
  readonly #directory: AddressDirectory;
  readonly #logger: Logger;
  readonly #options: ResolvedOptions;
  readonly #informers: Informer[] = [];
  readonly #abort = new AbortController();
  #client: KubeApiClient | undefined;
  #server = '';
  #origin = '';
  #synced = false;
  /** Informers not heard from within unhealthy_after at the last health check (for logging transitions). */
  #silent: string[] = [];
  #healthCheck: NodeJS.Timeout | undefined;

  constructor(directory: AddressDirectory, logger: Logger, options: KubernetesSourceOptions) {
    this.#directory = directory;
    this.#logger = logger;
    // Spread only the options that are set: an explicit `undefined` must not override a default.
    const given = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined));
    this.#options = { backoffInitialMs: 1000, backoffMaxMs: 30_000, pageSize: 500, ...given } as ResolvedOptions;
  }

  /**
   * True once pods, nodes, replicasets, jobs, namespaces, Services and EndpointSlices have each been listed, and
   * while each has heard from the API server within unhealthy_after.
   */
  get ready(): boolean {
    return this.#synced && this.#silentInformers(Date.now()).length === 0;
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
    const { target, origin } = loadKubeConfig(this.#options.kubeconfig);
    this.#origin = origin;
    this.#server = target.server;
    const client = (this.#client = new KubeApiClient(target));
    const dir = this.#directory;
    const { podLabels, namespaceLabels } = this.#options;
    const podSelector = this.#options.localPodsOnly ? `spec.nodeName=${this.#options.nodeName}` : undefined;

    const transformPod: Transform = (p) => {
      const meta = p.metadata ?? {};
      const namespace = dir.intern(String(meta.namespace ?? 'default'));
      const owner = controllerOf(meta);
      const ips: string[] = (p.status?.podIPs ?? []).map((x: any) => String(x.ip));
      if (ips.length === 0 && p.status?.podIP) ips.push(String(p.status.podIP));
      const slim: Slim & { pod?: Parameters<AddressDirectory['upsertPod']>[0] } = {
        metadata: { name: String(meta.name), namespace },
        pod: {
          namespace,
          name: String(meta.name),
          uid: meta.uid ? String(meta.uid) : undefined,
          nodeName: p.spec?.nodeName ? dir.intern(String(p.spec.nodeName)) : undefined,
          workload: owner ? dir.workload(namespace, owner.kind, owner.name) : undefined,
          hostNetwork: p.spec?.hostNetwork === true,
          addresses: ips,
          created: timestamp(meta.creationTimestamp),
          labels: podLabels.pick(meta.labels),
        },
      };
      return slim;
    };
    const transformNamespace: Transform = (n) => ({
      metadata: { name: String(n.metadata?.name) },
      labels: namespaceLabels.pick(n.metadata?.labels),
      ignored: n.metadata?.annotations?.[IGNORE_ANNOTATION] === 'true',
    }) as Slim;
    const transformService: Transform = (o) => {
      const spec = o.spec ?? {};
      const ips: unknown[] = spec.clusterIPs ?? (spec.clusterIP ? [spec.clusterIP] : []);
      return {
        metadata: { name: String(o.metadata?.name), namespace: String(o.metadata?.namespace ?? 'default') },
        created: timestamp(o.metadata?.creationTimestamp),
        externalName: spec.type === 'ExternalName',
        // "None" is a headless Service: no ClusterIP.
        clusterIps: ips.map(String).filter((ip) => ip !== '' && ip !== 'None'),
        routesByZone: routesByZone(o),
      } as Slim;
    };
    const transformSlice: Transform = (o) => {
      const meta = o.metadata ?? {};
      const addresses: string[] = [];
      let zoneHints = false;
      for (const e of o.endpoints ?? []) {
        for (const a of e.addresses ?? []) addresses.push(String(a));
        if (e.hints?.forZones?.length) zoneHints = true;
      }
      // No ports (null or empty) on a slice: every port of its endpoints is the Service's (headless Services without ports).
      const ports: SlicePort[] | undefined = o.ports?.length ? o.ports.filter((p: any) => p.port !== undefined && p.port !== null).map((p: any) => ({ port: Number(p.port), transport: String(p.protocol ?? 'TCP').toLowerCase() })) : undefined;
      return {
        metadata: { name: String(meta.name), namespace: String(meta.namespace ?? 'default') },
        service: meta.labels?.[SERVICE_NAME_LABEL] as string | undefined,
        // Kept as long as the slice: a copy of exact length (push leaves room to grow).
        addresses: addresses.slice(),
        ports,
        zoneHints,
      } as Slim;
    };
    const transformNode: Transform = (n) => {
      const labels = n.metadata?.labels ?? {};
      const pick = (keys: string[]) => keys.map((k) => labels[k]).find((v) => v !== undefined && v !== '');
      const addresses = (n.status?.addresses ?? []).filter((a: any) => a.type === 'InternalIP' || a.type === 'ExternalIP').map((a: any) => String(a.address));
      // spec.podCIDRs (dual-stack) supersedes spec.podCIDR; a malformed block is skipped.
      const blocks: unknown[] = n.spec?.podCIDRs ?? (n.spec?.podCIDR ? [n.spec.podCIDR] : []);
      const podCidrs = blocks.map((b) => parseCidr(String(b))).filter((c): c is Cidr => c !== undefined);
      return { metadata: { name: String(n.metadata?.name) }, zone: pick(ZONE_LABELS), region: pick(REGION_LABELS), addresses, podCidrs } as Slim;
    };
    const transformController: Transform = (o) => ({
      metadata: { name: String(o.metadata?.name), namespace: String(o.metadata?.namespace ?? 'default') },
      owner: controllerOf(o.metadata),
    }) as Slim;

    const upsertPod = (o: any) => {
      if (o.pod) dir.upsertPod(o.pod);
      o.pod = undefined;
    };
    const deletePod = (o: Slim) => dir.deletePod(o.metadata.namespace ?? 'default', o.metadata.name, Date.now());
    const upsertNode = (o: any) => dir.upsertNode(o.metadata.name, o.zone, o.region, o.addresses, o.podCidrs);
    const controller = (kind: string) => ({
      // A ReplicaSet rolls up to its controller (a Deployment, or e.g. an Argo Rollout), a Job to its CronJob (or other controller).
      upsert: (o: any) => dir.upsertController(o.metadata.namespace, kind, o.metadata.name, o.owner),
      remove: (o: Slim) => dir.deleteController(o.metadata.namespace ?? 'default', kind, o.metadata.name),
    });
    const upsertSlice = (o: any) => {
      // A slice no Service owns (managed by hand, without the label) names no Service.
      if (o.service === undefined) dir.services.deleteSlice(o.metadata.namespace, o.metadata.name);
      else dir.services.upsertSlice(o.metadata.namespace, o.metadata.name, String(o.service), o.addresses, o.ports, o.zoneHints);
    };
    const rs = controller('ReplicaSet');
    const job = controller('Job');

    // Order does not matter: pods point at shared node and workload entries that fill in when those arrive.
    this.#add(client, 'nodes', '/api/v1/nodes', transformNode, upsertNode, (o) => dir.deleteNode(o.metadata.name));
    this.#add(client, 'replicasets', '/apis/apps/v1/replicasets', transformController, rs.upsert, rs.remove);
    this.#add(client, 'jobs', '/apis/batch/v1/jobs', transformController, job.upsert, job.remove);
    this.#add(client, 'namespaces', '/api/v1/namespaces', transformNamespace, (o: any) => dir.upsertNamespace(o.metadata.name, o.labels, o.ignored), (o) => dir.deleteNamespace(o.metadata.name));
    this.#add(client, 'services', '/api/v1/services', transformService, (o: any) => dir.services.upsertService(o.metadata.namespace, o.metadata.name, o.created, o.externalName, o.clusterIps, o.routesByZone), (o) => dir.services.deleteService(o.metadata.namespace ?? 'default', o.metadata.name));
    this.#add(client, 'endpointslices', '/apis/discovery.k8s.io/v1/endpointslices', transformSlice, upsertSlice, (o) => dir.services.deleteSlice(o.metadata.namespace ?? 'default', o.metadata.name));
    this.#add(client, 'pods', '/api/v1/pods', transformPod, upsertPod, deletePod, podSelector);

    const synced = Promise.all(this.#informers.map((i) => this.#run(i)));
    const stopWaiting = new AbortController();
    const onShutdown = () => stopWaiting.abort();
    this.#abort.signal.addEventListener('abort', onShutdown);
    const timeout = sleep(this.#options.syncTimeoutMs, 'timeout' as const, { signal: stopWaiting.signal }).catch(() => 'aborted' as const);
    const outcome = await Promise.race([synced.then(() => 'synced' as const), timeout]);
    stopWaiting.abort();
    this.#abort.signal.removeEventListener('abort', onShutdown);
    if (outcome !== 'aborted') this.#startHealthCheck();
    if (outcome === 'synced') {
      this.#synced = true;
      this.#logger.info({ pods: dir.podCount, nodes: dir.nodeCount, source: this.#origin }, 'k8sattributes: synced with the Kubernetes API');
    } else if (outcome === 'timeout') {
      this.#logger.warn(
        { server: this.#server, source: this.#origin, waiting: this.#informers.filter((i) => !i.synced).map((i) => i.name), errors: this.errors },
        `k8sattributes: not synced with the Kubernetes API at ${this.#server} after ${this.#options.syncTimeoutMs} ms; starting unready (addresses resolve as objects arrive) and retrying`,
      );
      void synced.then(() => {
        if (this.#abort.signal.aborted) return;
        this.#synced = true;
        this.#logger.info({ pods: dir.podCount, nodes: dir.nodeCount }, 'k8sattributes: synced with the Kubernetes API (late); ready');
      });
    }
  }

  async shutdown(): Promise<void> {
    clearInterval(this.#healthCheck);
    this.#abort.abort();
    for (const i of this.#informers) i.listWatch.stop();
    this.#client?.close();
  }

  #add(client: KubeApiClient, name: string, path: string, transform: Transform, upsert: (o: Slim) => void, remove: (o: Slim) => void, fieldSelector?: string): void {
    const informer = { name, synced: false, failures: 0, lastError: undefined, lastContact: 0 } as Informer;
    const timeoutSeconds = Math.max(1, Math.round(this.#options.unhealthyAfterMs / 2000));
    informer.listWatch = new ListWatch<Slim>(client, {
      path,
      fieldSelector,
      pageSize: this.#options.pageSize,
      timeoutSeconds,
      // Past the server's own end of the watch, so that only a hung request is cut.
      idleMs: timeoutSeconds * 1000 + Math.max(1000, timeoutSeconds * 500),
      backoffMaxMs: this.#options.backoffMaxMs,
      transform,
      upsert,
      remove,
      contact: () => (informer.lastContact = Date.now()),
    });
    this.#informers.push(informer);
  }

  /** Informers that have not heard from the API server within unhealthy_after at `now`. */
  #silentInformers(now: number): string[] {
    const since = now - this.#options.unhealthyAfterMs;
    return this.#informers.filter((i) => i.lastContact < since).map((i) => i.name);
  }

  /** Logs when informers fall silent and when they are heard from again (ready itself is computed when asked). */
  #startHealthCheck(): void {
    const every = Math.max(250, Math.min(5000, this.#options.unhealthyAfterMs / 4));
    this.#healthCheck = setInterval(() => {
      if (!this.#synced) return;
      const silent = this.#silentInformers(Date.now());
      const was = this.#silent;
      this.#silent = silent;
      if (silent.length > 0 && was.length === 0) {
        this.#logger.error(
          { server: this.#server, source: this.#origin, silent, errors: this.errors },
          `k8sattributes: ${silent.join(', ')} not heard from the Kubernetes API at ${this.#server} for ${this.#options.unhealthyAfterMs} ms (unhealthy_after); not ready until they are`,
        );
      } else if (silent.length === 0 && was.length > 0) {
        this.#logger.info({ server: this.#server }, `k8sattributes: in contact with the Kubernetes API at ${this.#server} again; ready`);
      }
    }, every);
    this.#healthCheck.unref();
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
    const attempt = async () => {
      retrying = false;
      try {
        await listWatch.start(fail);
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
      listWatch.stop();
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
