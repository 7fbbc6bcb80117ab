/**
 * The k8sattributes processor: names both ends of every flow (namespace, pod,
 * workload, node, zone, region, hostNetwork) from the address directory, one
 * Map lookup per end; the batch is changed in place. Columns (the kernel
 * receivers' batches) are named once per distinct end and stay columns
 * (columnar.ts); records are named one by one (each record kept is replaced
 * by a new record with every field, each resolved end by a complete
 * endpoint object; the input records are not changed). On agents (node_name
 * set) it keeps only flows whose source is on this node, so each flow is
 * counted once in the cluster (and overflow records, which this node's hook
 * counted). On sidecars (pod_name set) every flow was counted in the pod's
 * own network namespace, so its source is the pod, found by name: even
 * before the pod's address is known, and even when a deleted pod's address
 * is reused by this one.
 *
 * A flow whose source resolves to nothing yet (a new pod whose watch event
 * has not arrived) is held for up to resolve_wait and resolved again when the
 * directory changes; it then leaves in a batch of its own that carries the
 * interval it was counted in. After the wait, or when the hold is full, it is
 * decided as it is (attribution.ts): placed by pod CIDR, passed on with its
 * address, or dropped and counted.
 */
import { MUTATES_DATA } from '../../pipeline/component.ts';
import type { ComponentSettings, FlowConsumer, LifecycleContext, Processor } from '../../pipeline/component.ts';
import { OVERFLOW_TRANSPORT, type FlowBatch, type FlowEndpoint, type FlowRecord } from '../../pipeline/flow.ts';
import { NO_DEADLINE } from '../../pipeline/lifecycle.ts';
import { attribute, hasUpstreamNames, newTally, type Pass, type Tally } from './attribution.ts';
import { attributeColumns } from './columnar.ts';
import type { K8sAttributesConfig } from './config.ts';
import { ChosenLabels } from './chosen-labels.ts';
import { AddressDirectory, type ExternalEntry, type Resolved } from './directory.ts';
import { ExternalBlocks } from './external-ranges.ts';
import { HeldFlows } from './held-flows.ts';
import { KubernetesSource } from './kubernetes-source.ts';
import { StaticSource } from './static-source.ts';
import { SharedEnds } from './shared-ends.ts';
import { K8sAttributesTelemetry, type K8sAttributesStats } from './telemetry.ts';

export type { K8sAttributesStats } from './telemetry.ts';

/** Test and benchmark knobs that are not user configuration. */
export interface K8sAttributesOptions {
  backoffInitialMs?: number;
  backoffMaxMs?: number;
}

export class K8sAttributesProcessor implements Processor {
  /** Writes the names of both ends into the records it is given. */
  readonly capabilities = MUTATES_DATA;
  readonly #settings: ComponentSettings;
  readonly #next: FlowConsumer;
  readonly #kubernetes: KubernetesSource | undefined;
  readonly #static: StaticSource | undefined;
  readonly #directory: AddressDirectory | undefined;
  readonly #nodeName: string | undefined;
  /** The sidecar's own pod (pod_name, pod_namespace). */
  readonly #ownPod: { namespace: string; name: string } | undefined;
  readonly #resolveAll: boolean;
  readonly #resolveWaitMs: number;
  readonly #holding: boolean;
  readonly #held: HeldFlows;
  readonly #telemetry: K8sAttributesTelemetry;
  /** Addresses that missed the directory in the current pass -> external block or null. */
  readonly #externalCache = new Map<string, ExternalEntry | null>();
  readonly #sharedEnds = new SharedEnds();
  /** The directory and generation held flows were last resolved against: nothing new, nothing to retry. */
  #heldResolvedAgainst: { directory: AddressDirectory | undefined; generation: number } = { directory: undefined, generation: -1 };
  /** The config's `external` and `external_ranges`, loaded at start; consulted after the directory and the inventory's blocks. */
  readonly #externalConfig: Pick<K8sAttributesConfig, 'external' | 'external_ranges'>;
  #externals: ExternalBlocks | undefined;
  /** The sweep of held flows, while there are any (#sweepWhileHeld). */
  #sweep: NodeJS.Timeout | undefined;
  #started = false;
  #stopping = false;

  constructor(settings: ComponentSettings, config: K8sAttributesConfig, next: FlowConsumer, options: K8sAttributesOptions = {}) {
    this.#settings = settings;
    this.#next = next;
    this.#nodeName = config.node_name;
    this.#ownPod = config.pod_name !== undefined ? { namespace: config.pod_namespace!, name: config.pod_name } : undefined;
    this.#resolveAll = config.resolve === 'all';
    this.#resolveWaitMs = config.resolve_wait;
    this.#externalConfig = { external: config.external, external_ranges: config.external_ranges };
    this.#holding = config.max_held_records > 0 && config.max_held_memory_mib > 0;
    this.#held = new HeldFlows(config.max_held_records, config.max_held_memory_mib * 1024 * 1024);
    // The telemetry is made below; labels are only picked once the source starts.
    const podLabels = new ChosenLabels(config.pod_labels, config.max_label_values, (key) => this.#telemetry.labelOther(key, 'pod'));
    const namespaceLabels = new ChosenLabels(config.namespace_labels, config.max_label_values, (key) => this.#telemetry.labelOther(key, 'namespace'));
    if (config.source === 'static') {
      this.#static = new StaticSource(config.inventory!, config.pod_delete_grace, settings.logger, { pod: podLabels, namespace: namespaceLabels });
    } else {
      this.#directory = new AddressDirectory(config.pod_delete_grace);
      this.#kubernetes = new KubernetesSource(this.#directory, settings.logger, {
        kubeconfig: config.kubeconfig,
        nodeName: config.node_name,
        localPodsOnly: config.resolve === 'local',
        syncTimeoutMs: config.sync_timeout,
        unhealthyAfterMs: config.unhealthy_after,
        backoffInitialMs: options.backoffInitialMs,
        backoffMaxMs: options.backoffMaxMs,
        podLabels,
        namespaceLabels,
      });
    }
    const processor = this;
    this.#telemetry = new K8sAttributesTelemetry(settings.meter, settings.id, {
      get podCount() {
        return processor.directory?.podCount ?? 0;
      },
      get ready() {
        return processor.ready;
      },
      get heldNow() {
        return processor.#held.records;
      },
      get heldBytesNow() {
        return processor.#held.bytes;
      },
    });
  }

  /** Counts since start (also in self-telemetry). */
  get stats(): K8sAttributesStats {
    return this.#telemetry.stats;
  }

  /** Records held now, waiting for their source to resolve. */
  get heldRecords(): number {
    return this.#held.records;
  }

  /** Estimated heap bytes of the records held now. */
  get heldBytes(): number {
    return this.#held.bytes;
  }

  /** The directory in use (it changes on a static reload). */
  get directory(): AddressDirectory | undefined {
    return this.#directory ?? (this.#started ? this.#static?.view.directory : undefined);
  }

  /**
   * Static: true once loaded. Kubernetes: true once synced and while every
   * informer has heard from the API server within unhealthy_after.
   */
  get ready(): boolean {
    return this.#kubernetes ? this.#kubernetes.ready : this.#started;
  }

  /** The static source, for tests that wait for reloads. */
  get staticSource(): StaticSource | undefined {
    return this.#static;
  }

  async start(): Promise<void> {
    const { external = [], external_ranges = [] } = this.#externalConfig;
    if (external.length > 0 || external_ranges.length > 0) {
      this.#externals = new ExternalBlocks(external, external_ranges);
      this.#settings.logger.info({ prefixes: this.#externals.size, files: external_ranges.map((r) => r.path) }, 'k8sattributes: external blocks loaded');
    }
    if (this.#kubernetes) await this.#kubernetes.start();
    else await this.#static!.start();
    this.#started = true;
  }

  /**
   * Runs the sweep while flows are held, and only then: a node's agent holds
   * nothing most of the time, and a timer that fires anyway wakes it every
   * second for nothing. Often enough that a held flow leaves soon after its
   * pod appears or its wait ends.
   */
  #sweepWhileHeld(): void {
    if (this.#sweep !== undefined || this.#stopping || this.#held.records === 0) return;
    const every = Math.max(25, Math.min(1000, this.#resolveWaitMs / 4));
    this.#sweep = setInterval(() => {
      void this.#releaseHeld(false).then(() => {
        if (this.#held.records > 0) return;
        clearInterval(this.#sweep);
        this.#sweep = undefined;
      });
    }, every);
    this.#sweep.unref();
  }

  /** Passes on what is held (resolved when it can be, as unresolved otherwise), then stops the source. */
  async shutdown(context: LifecycleContext = NO_DEADLINE): Promise<void> {
    this.#stopping = true;
    clearInterval(this.#sweep);
    const flushed = this.#releaseHeld(true);
    const aborted = new Promise<'aborted'>((resolve) => {
      if (context.signal.aborted) resolve('aborted');
      context.signal.addEventListener('abort', () => resolve('aborted'), { once: true });
    });
    if ((await Promise.race([flushed.then(() => 'flushed' as const), aborted])) === 'aborted') {
      this.#settings.logger.error('k8sattributes: the shutdown deadline passed while held flows were being passed on; the rest did not reach the exporters');
    }
    await this.#kubernetes?.shutdown();
    await this.#static?.shutdown();
  }

  async consume(batch: FlowBatch): Promise<void> {
    const now = Date.now();
    const pass = this.#pass(now);
    const released = this.#held.records > 0 ? this.#release(pass, now, false) : [];
    const nodeName = this.#nodeName;
    const tally = newTally();
    const until = now + this.#resolveWaitMs;
    const sidecar = this.#ownPod !== undefined;
    // Columns (the kernel receivers' drains) are named once per end (columnar.ts). A sidecar's
    // batches take the records path: its receiver sees one pod's flows, few, and its
    // within-pod rule compares addresses per flow (reading batch.records turns columns into records).
    const columns = sidecar ? undefined : batch.columns;
    if (columns !== undefined) {
      const hold = this.#holding ? (r: FlowRecord) => this.#held.hold(r, batch.start, batch.end, until) : undefined;
      attributeColumns(pass, nodeName, columns, tally, hold);
    } else this.#attributeRecords(pass, batch, tally, until);
    this.#sweepWhileHeld();
    this.#telemetry.add(tally);
    // Earlier intervals first: what waited was counted before this batch.
    for (const b of released) await this.#next.consume(b);
    await this.#next.consume(batch);
  }

  /** Names the records of `batch` in place, one by one (the records path; columnar.ts is the columns path). */
  #attributeRecords(pass: Pass, batch: FlowBatch, tally: Tally, until: number): void {
    const sidecar = this.#ownPod !== undefined;
    const records = batch.records;
    let kept = 0;
    for (let i = 0; i < records.length; i++) {
      const r = records[i]!;
      // On a sidecar, traffic from the pod to its own address is delivered over
      // loopback and never leaves the pod (the app calling itself, probes run inside it).
      if (sidecar && r.dst.address === r.src.address && r.transport !== OVERFLOW_TRANSPORT) {
        tally.withinPodFlows++;
        tally.withinPodBytes += r.bytes;
        continue;
      }
      const s = pass.source(r.src);
      if (s === undefined && this.#holding && r.transport !== OVERFLOW_TRANSPORT && !hasUpstreamNames(r.src)) {
        if (this.#held.hold(r, batch.start, batch.end, until)) {
          tally.heldRecords++;
          continue;
        }
        tally.notHeldRecords++;
      }
      const named = attribute(pass, this.#nodeName, r, s, tally);
      if (named !== undefined) records[kept++] = named;
    }
    records.length = kept;
  }

  /** What this pass resolves against; clears the per-pass cache of external blocks. */
  #pass(now: number): Pass {
    const view = this.#static && this.#started ? this.#static.view : undefined;
    const directory = view ? view.directory : this.#directory!;
    directory.expire(now);
    const cache = this.#externalCache;
    cache.clear();
    this.#sharedEnds.begin();
    const inventory = view?.hasExternal ? view : undefined;
    const configured = this.#externals;
    const resolve =
      inventory === undefined && configured === undefined
        ? (address: string) => directory.lookup(address)
        : (address: string): Resolved | undefined => {
            const hit = directory.lookup(address);
            if (hit !== undefined) return hit;
            let e = cache.get(address);
            if (e === undefined) {
              // The inventory's blocks first: the file that names the cluster names its neighbours best.
              e = inventory?.external(address) ?? configured?.lookup(address) ?? null;
              cache.set(address, e);
            }
            return e ?? undefined;
          };
    // A sidecar's sources are its own pod, by name: whatever their address (not yet reported, or reused).
    const ownPod = this.#ownPod !== undefined ? directory.pod(this.#ownPod.namespace, this.#ownPod.name) : undefined;
    return {
      directory,
      resolve,
      // Elsewhere the sending pod's UID, where the kernel told it (cgroup receiver), names the
      // source even when its address is the node's (hostNetwork) or not known yet; else the address does.
      source:
        this.#ownPod !== undefined
          ? () => ownPod
          : (src: FlowEndpoint) => (src.podUid !== undefined ? directory.podByUid(src.podUid) : undefined) ?? resolve(src.address),
      self: this.#nodeName !== undefined ? directory.knownNode(this.#nodeName) : undefined,
      knowsEveryPod: this.#static !== undefined || (this.#resolveAll && this.#kubernetes!.ready),
      ends: this.#sharedEnds,
    };
  }

  /**
   * Takes out of the hold what is due: every group whose wait is over, and
   * (when the directory changed since the last try) the records whose
   * source resolves now; `all` takes everything (shutdown). Returns them
   * named, one batch per interval they were counted in.
   */
  #release(pass: Pass, now: number, all: boolean): FlowBatch[] {
    const last = this.#heldResolvedAgainst;
    const changed = last.directory !== pass.directory || last.generation !== pass.directory.generation;
    this.#heldResolvedAgainst = { directory: pass.directory, generation: pass.directory.generation };
    const groups = all ? this.#held.releaseAll() : this.#held.release(now, changed ? (r) => pass.source(r.src) !== undefined : undefined);
    const tally: Tally = newTally();
    const batches: FlowBatch[] = [];
    for (const group of groups) {
      const records: FlowRecord[] = [];
      for (const r of group.records) {
        const s = pass.source(r.src);
        if (s !== undefined) tally.lateResolvedRecords++;
        else tally.unresolvedAfterWaitRecords++;
        const named = attribute(pass, this.#nodeName, r, s, tally);
        if (named !== undefined) records.push(named);
      }
      if (records.length > 0) batches.push({ start: group.start, end: group.end, records });
    }
    this.#telemetry.add(tally);
    return batches;
  }

  /** The sweep (and shutdown): passes on what leaves the hold. Never rejects: after start nothing may take the process down. */
  async #releaseHeld(all: boolean): Promise<void> {
    if (this.#held.records === 0 || !this.#started) return;
    const now = Date.now();
    const batches = this.#release(this.#pass(now), now, all);
    for (const b of batches) {
      try {
        await this.#next.consume(b);
      } catch (err) {
        this.#settings.logger.error({ err, records: b.records.length }, 'k8sattributes: passing on held flows failed');
      }
    }
  }
}
