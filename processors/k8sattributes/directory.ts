/**
 * The address directory: every pod, node and external address the processor
 * knows, indexed by address text in one Map so that resolving a flow end is a
 * single lookup. Sources (Kubernetes informers or a static inventory) write
 * into it; the processor only reads.
 *
 * Rules (see README):
 * - a node's InternalIP/ExternalIP resolves to the node (hostNetwork pods share
 *   it and are not indexed themselves);
 * - when several pods claim one address, a live pod beats a deleted one and the
 *   newest (creationTimestamp) beats the older;
 * - a deleted pod keeps its addresses for `graceMs`, then they are released.
 * Zone and region live on the shared NodeEntry and workload on the shared
 * WorkloadEntry, so relabelling a node or learning a ReplicaSet's Deployment
 * updates every pod at once without touching the pods.
 * Nodes' pod CIDRs (spec.podCIDRs) are indexed too: they place an address on
 * a node before its pod is known (podNetworkOf).
 */
import { CidrMap, type Cidr } from '../../net/index.ts';
import { ServiceIndex, type ServiceEntry } from './services.ts';

export const NODE = 0;
export const POD = 1;
export const EXTERNAL = 2;
const CONTESTED = 3;

let identities = 0;
/** A new FlowEndpoint.identity for a directory entry (unique in this process). */
export function newIdentity(): number {
  return identities++;
}

export interface NodeEntry {
  readonly kind: typeof NODE;
  /** FlowEndpoint.identity of the ends resolved to this entry. */
  readonly identity: number;
  readonly name: string;
  zone: string | undefined;
  region: string | undefined;
  addresses: readonly string[];
  /** spec.podCIDRs: the blocks this node's pods take their addresses from (none when the CNI does not use them). */
  podCidrs: readonly Cidr[];
  /** False for a placeholder created because a pod names a node not (yet) seen. */
  known: boolean;
}

/** The workload a pod belongs to after following owner references; shared by all its pods. */
export interface WorkloadEntry {
  kind: string;
  name: string;
  /** Pods pointing at this entry; it is forgotten when 0 and its controller object is gone. */
  pods: number;
  /** The controller object (ReplicaSet, Job, ...) is currently known to exist. */
  live: boolean;
  readonly key: string;
}

/** The namespace annotation that opts a namespace's ends out of being named (README "Opting out"). */
export const IGNORE_ANNOTATION = 'zonetap.io/ignore';

/** A namespace: shared by its pods, so a relabelled or annotated namespace changes them all at once. */
export interface NamespaceEntry {
  /** FlowEndpoint.identity of the ends of this namespace reduced by `zonetap.io/ignore`. */
  readonly identity: number;
  readonly name: string;
  /** The chosen labels (namespace_labels), shared per distinct set. */
  labels: Readonly<Record<string, string>> | undefined;
  /** Annotated `zonetap.io/ignore: "true"`: its ends are reduced to the namespace (README "Opting out"). */
  ignored: boolean;
}

export interface PodEntry {
  readonly kind: typeof POD;
  /** FlowEndpoint.identity of the ends resolved to this entry. */
  readonly identity: number;
  readonly namespace: string;
  readonly ns: NamespaceEntry;
  readonly name: string;
  /** The chosen labels (pod_labels), shared per distinct set. */
  readonly labels: Readonly<Record<string, string>> | undefined;
  /** metadata.uid, when the source knows it: how the cgroup receiver names a flow's sending pod. */
  readonly uid: string | undefined;
  readonly node: NodeEntry | undefined;
  readonly workload: WorkloadEntry | undefined;
  readonly hostNetwork: boolean;
  readonly addresses: readonly string[];
  /** creationTimestamp, ms since epoch. */
  readonly created: number;
  /** 0 while the pod exists; the time it was deleted afterwards. */
  deletedAt: number;
}

export interface ExternalEntry {
  readonly kind: typeof EXTERNAL;
  /** FlowEndpoint.identity of the ends resolved to this entry. */
  readonly identity: number;
  readonly name: string;
  readonly zone: string | undefined;
  readonly region: string | undefined;
  /** What it is (external-ranges.ts EXTERNAL_KINDS), on the wire as `zonetap.<side>.external.kind`; undefined when the inventory does not say. */
  readonly externalKind: string | undefined;
}

export type Claim = NodeEntry | PodEntry;
export type Resolved = Claim | ExternalEntry | ServiceEntry;

interface Contested {
  readonly kind: typeof CONTESTED;
  readonly claims: Claim[];
  winner: Claim;
}

/** Rank of a claim on an address: node > live pod > deleted pod; newer pods first. */
function better(a: Claim, b: Claim): boolean {
  if (a.kind !== b.kind) return a.kind === NODE;
  if (a.kind === NODE) return false;
  const pb = b as PodEntry;
  if ((a.deletedAt === 0) !== (pb.deletedAt === 0)) return a.deletedAt === 0;
  return a.created > pb.created;
}

function pickWinner(claims: readonly Claim[]): Claim {
  let w = claims[0]!;
  for (let i = 1; i < claims.length; i++) if (better(claims[i]!, w)) w = claims[i]!;
  return w;
}

export class AddressDirectory {
  readonly #byAddress = new Map<string, Claim | Contested>();
  readonly #nodes = new Map<string, NodeEntry>();
  readonly #pods = new Map<string, PodEntry>();
  /** Pods by UID, deleted ones for their grace period (FlowEndpoint.podUid). */
  readonly #byUid = new Map<string, PodEntry>();
  readonly #workloads = new Map<string, WorkloadEntry>();
  readonly #namespaces = new Map<string, NamespaceEntry>();
  readonly #strings = new Map<string, string>();
  /** Services, their EndpointSlices and ClusterIPs: the Service of a destination. */
  readonly services = new ServiceIndex(newIdentity, (s) => this.intern(s));
  readonly #podNetworks = new CidrMap<NodeEntry>();
  /** Deleted pods in deletion order, released after graceMs. */
  #deleted: PodEntry[] = [];
  #deletedHead = 0;
  readonly graceMs: number;
  /**
   * Incremented whenever an address gets a claim: an address that resolved
   * to nothing may resolve now. Lets the processor re-resolve the flows it
   * holds only when something changed.
   */
  generation = 0;

  constructor(graceMs: number) {
    this.graceMs = graceMs;
  }

  /**
   * The pod or node that `address` belongs to now, or the Service whose
   * ClusterIP it is (a flow seen before kube-proxy's DNAT).
   */
  lookup(address: string): Claim | ServiceEntry | undefined {
    const v = this.#byAddress.get(address);
    if (v === undefined) return this.services.serviceByClusterIp(address);
    return v.kind === CONTESTED ? v.winner : v;
  }

  /** The namespace entry `name`, created (unlabelled, not ignored) on first use. */
  namespace(name: string): NamespaceEntry {
    let n = this.#namespaces.get(name);
    if (n === undefined) {
      n = { identity: newIdentity(), name: this.intern(name), labels: undefined, ignored: false };
      this.#namespaces.set(n.name, n);
    }
    return n;
  }

  upsertNamespace(name: string, labels: Readonly<Record<string, string>> | undefined, ignored: boolean): void {
    const n = this.namespace(name);
    n.labels = labels;
    n.ignored = ignored;
  }

  /** A deleted namespace's pods (deleted with it) keep resolving for their grace, no longer labelled or ignored. */
  deleteNamespace(name: string): void {
    const n = this.#namespaces.get(name);
    if (n === undefined) return;
    n.labels = undefined;
    n.ignored = false;
  }

  /**
   * The node whose pod CIDR contains `address` (longest match), known or not
   * its pod: the locality of an address whose pod is not (yet) known.
   */
  podNetworkOf(address: string): NodeEntry | undefined {
    return this.#podNetworks.lookup(address);
  }

  /** The node `name` if it is known (listed, or in the inventory). */
  knownNode(name: string): NodeEntry | undefined {
    const n = this.#nodes.get(name);
    return n !== undefined && n.known ? n : undefined;
  }

  /** The pod with this UID (a deleted one for graceMs), for ends named by the cgroup receiver. */
  podByUid(uid: string): PodEntry | undefined {
    return this.#byUid.get(uid);
  }

  get podCount(): number {
    return this.#pods.size;
  }

  get nodeCount(): number {
    let n = 0;
    for (const node of this.#nodes.values()) if (node.known) n++;
    return n;
  }

  get addressCount(): number {
    return this.#byAddress.size;
  }

  /** One shared copy of repeated strings (namespaces, node names, workload names). */
  intern(s: string): string {
    const hit = this.#strings.get(s);
    if (hit !== undefined) return hit;
    this.#strings.set(s, s);
    return s;
  }

  node(name: string): NodeEntry {
    let n = this.#nodes.get(name);
    if (!n) {
      n = { kind: NODE, identity: newIdentity(), name: this.intern(name), zone: undefined, region: undefined, addresses: [], podCidrs: [], known: false };
      this.#nodes.set(n.name, n);
    }
    return n;
  }

  upsertNode(name: string, zone: string | undefined, region: string | undefined, addresses: readonly string[], podCidrs: readonly Cidr[] = []): void {
    const n = this.node(name);
    n.zone = zone === undefined ? undefined : this.intern(zone);
    n.region = region === undefined ? undefined : this.intern(region);
    n.known = true;
    if (!sameList(n.addresses, addresses)) {
      for (const a of n.addresses) if (!addresses.includes(a)) this.#unclaim(a, n);
      for (const a of addresses) if (!n.addresses.includes(a)) this.#claim(a, n);
      n.addresses = addresses;
    }
    if (!sameList(n.podCidrs.map((c) => c.text), podCidrs.map((c) => c.text))) {
      for (const c of n.podCidrs) this.#podNetworks.delete(c, n);
      for (const c of podCidrs) this.#podNetworks.set(c, n);
      n.podCidrs = podCidrs;
    }
  }

  deleteNode(name: string): void {
    const n = this.#nodes.get(name);
    if (!n) return;
    for (const a of n.addresses) this.#unclaim(a, n);
    for (const c of n.podCidrs) this.#podNetworks.delete(c, n);
    n.addresses = [];
    n.podCidrs = [];
    n.known = false;
  }

  /** The shared workload entry for a controller (e.g. ReplicaSet shop/api-7d9f), created on first use. */
  workload(namespace: string, kind: string, name: string): WorkloadEntry {
    const key = `${namespace}/${kind}/${name}`;
    let w = this.#workloads.get(key);
    if (!w) {
      w = { kind: this.intern(kind), name: this.intern(name), pods: 0, live: false, key };
      this.#workloads.set(key, w);
    }
    return w;
  }

  /** A controller object (ReplicaSet, Job) exists and rolls up to `owner` (its Deployment or CronJob) or to itself. */
  upsertController(namespace: string, kind: string, name: string, owner: { kind: string; name: string } | undefined): void {
    const w = this.workload(namespace, kind, name);
    w.live = true;
    w.kind = this.intern(owner?.kind ?? kind);
    w.name = this.intern(owner?.name ?? name);
  }

  deleteController(namespace: string, kind: string, name: string): void {
    const w = this.#workloads.get(`${namespace}/${kind}/${name}`);
    if (!w) return;
    w.live = false;
    if (w.pods === 0) this.#workloads.delete(w.key);
  }

  /**
   * Adds or replaces the pod `namespace/name`. `workload` MUST come from
   * workload() (or be undefined for a bare pod, which is its own workload).
   */
  upsertPod(p: Omit<PodEntry, 'kind' | 'identity' | 'deletedAt' | 'node' | 'namespace' | 'ns' | 'labels'> & { namespace: string; nodeName: string | undefined; labels?: PodEntry['labels'] }): PodEntry {
    const key = `${p.namespace}/${p.name}`;
    const old = this.#pods.get(key);
    const node = p.nodeName ? this.node(p.nodeName) : undefined;
    if (
      old &&
      old.node === node &&
      old.workload === p.workload &&
      old.hostNetwork === p.hostNetwork &&
      old.created === p.created &&
      old.uid === p.uid &&
      old.labels === p.labels &&
      sameList(old.addresses, p.addresses)
    ) {
      return old;
    }
    const entry: PodEntry = {
      kind: POD,
      identity: newIdentity(),
      namespace: this.intern(p.namespace),
      ns: this.namespace(p.namespace),
      name: p.name,
      labels: p.labels,
      uid: p.uid,
      node,
      workload: p.workload,
      hostNetwork: p.hostNetwork,
      addresses: p.hostNetwork ? [] : p.addresses,
      created: p.created,
      deletedAt: 0,
    };
    if (entry.workload) entry.workload.pods++;
    this.#pods.set(key, entry);
    // A pod without an address yet still changes what resolves (a sidecar's own pod, by name).
    this.generation++;
    if (entry.uid !== undefined) this.#byUid.set(entry.uid, entry);
    for (const a of entry.addresses) this.#claim(a, entry);
    if (old) this.#release(old);
    return entry;
  }

  /** The pod is gone; its addresses keep resolving to it for graceMs unless a live pod claims them. */
  deletePod(namespace: string, name: string, now: number): void {
    const key = `${namespace}/${name}`;
    const entry = this.#pods.get(key);
    if (!entry) return;
    this.#pods.delete(key);
    entry.deletedAt = now;
    for (const a of entry.addresses) {
      const v = this.#byAddress.get(a);
      if (v !== undefined && v.kind === CONTESTED) v.winner = pickWinner(v.claims);
    }
    this.#deleted.push(entry);
  }

  /** Releases deleted pods whose grace period is over. Cheap when there is nothing to do. */
  expire(now: number): void {
    const q = this.#deleted;
    while (this.#deletedHead < q.length && q[this.#deletedHead]!.deletedAt + this.graceMs <= now) {
      this.#release(q[this.#deletedHead]!);
      this.#deletedHead++;
    }
    if (this.#deletedHead > 1024 && this.#deletedHead * 2 > q.length) {
      this.#deleted = q.slice(this.#deletedHead);
      this.#deletedHead = 0;
    }
  }

  /**
   * After a static inventory reload: pods of `previous` that this directory no
   * longer lists keep resolving as deleted pods for the rest of their grace
   * (deleted now, or earlier if they already were).
   */
  carryOverDeleted(previous: AddressDirectory, now: number): void {
    const gone: PodEntry[] = [];
    for (const [key, p] of previous.#pods) if (!this.#pods.has(key)) gone.push({ ...p, deletedAt: now });
    for (let i = previous.#deletedHead; i < previous.#deleted.length; i++) {
      const p = previous.#deleted[i]!;
      if (p.deletedAt + this.graceMs > now && !this.#pods.has(`${p.namespace}/${p.name}`)) gone.push({ ...p });
    }
    gone.sort((a, b) => a.deletedAt - b.deletedAt);
    for (const old of gone) {
      const entry: PodEntry = { ...old, node: old.node ? this.node(old.node.name) : undefined, ns: this.namespace(old.namespace) };
      if (entry.workload) entry.workload.pods++;
      for (const a of entry.addresses) this.#claim(a, entry);
      if (entry.uid !== undefined && !this.#byUid.has(entry.uid)) this.#byUid.set(entry.uid, entry);
      this.#deleted.push(entry);
    }
  }

  /** The live pod `namespace/name`, if known. */
  pod(namespace: string, name: string): PodEntry | undefined {
    return this.#pods.get(`${namespace}/${name}`);
  }

  /** Live pods, for tests and diagnostics. */
  pods(): IterableIterator<PodEntry> {
    return this.#pods.values();
  }

  #release(entry: PodEntry): void {
    for (const a of entry.addresses) this.#unclaim(a, entry);
    if (entry.uid !== undefined && this.#byUid.get(entry.uid) === entry) this.#byUid.delete(entry.uid);
    this.#releaseWorkload(entry);
  }

  #releaseWorkload(entry: PodEntry): void {
    const w = entry.workload;
    // A carried-over pod may point at the previous directory's entry: only forget our own.
    if (w && --w.pods === 0 && !w.live && this.#workloads.get(w.key) === w) this.#workloads.delete(w.key);
  }

  #claim(address: string, claim: Claim): void {
    this.generation++;
    const v = this.#byAddress.get(address);
    if (v === undefined) {
      this.#byAddress.set(address, claim);
    } else if (v.kind === CONTESTED) {
      v.claims.push(claim);
      if (better(claim, v.winner)) v.winner = claim;
    } else if (v !== claim) {
      const claims = [v, claim];
      this.#byAddress.set(address, { kind: CONTESTED, claims, winner: pickWinner(claims) });
    }
  }

  #unclaim(address: string, claim: Claim): void {
    const v = this.#byAddress.get(address);
    if (v === undefined) return;
    if (v === claim) {
      this.#byAddress.delete(address);
    } else if (v.kind === CONTESTED) {
      const i = v.claims.indexOf(claim);
      if (i < 0) return;
      v.claims.splice(i, 1);
      if (v.claims.length === 1) this.#byAddress.set(address, v.claims[0]!);
      else v.winner = pickWinner(v.claims);
    }
  }
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
