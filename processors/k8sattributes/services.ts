/**
 * Services and the addresses that back them: which Service a flow's
 * destination belongs to. Filled from Services (their type and ClusterIPs)
 * and EndpointSlices (discovery.k8s.io/v1: the addresses and ports of each
 * Service's endpoints), indexed by endpoint address so that naming a
 * destination is one Map lookup, and only when some Service has endpoints.
 *
 * The rule for a pod that backs several Services (README "Services"):
 * 1. the Services one of whose EndpointSlice ports is the flow's destination
 *    port and transport (a slice without ports, as of a headless Service
 *    without ports, matches every port);
 * 2. if none matches (ICMP, a port no Service publishes), all of them;
 * 3. of those, the oldest Service (creationTimestamp), then namespace/name.
 * ExternalName Services have no endpoints of their own and are never named.
 *
 * A Service "routes by zone" (`topologyAware`, on the flows as
 * `k8s.dst.service.topology_aware`) when its spec.trafficDistribution is set,
 * its `service.kubernetes.io/topology-mode` (or older
 * `service.kubernetes.io/topology-aware-hints`) annotation is set to anything
 * but Disabled, or an EndpointSlice of it carries zone hints (what kube-proxy
 * acts on): advice then does not tell the user to set it.
 */
export const SERVICE = 4;

export interface ServiceEntry {
  readonly kind: typeof SERVICE;
  /** FlowEndpoint.identity of ends resolved to this Service by its ClusterIP. */
  readonly identity: number;
  readonly namespace: string;
  readonly name: string;
  /** creationTimestamp, ms since the epoch (0 until the Service itself is listed). */
  created: number;
  /** spec.type ExternalName: a DNS alias, never attributed. */
  externalName: boolean;
  /** spec.clusterIPs (none for headless and ExternalName Services). */
  clusterIps: readonly string[];
  /** EndpointSlices pointing at it (replaced, never changed in place); the entry is forgotten when none is left and the Service is gone. */
  slices: readonly Slice[];
  /** The Service object is currently known to exist. */
  live: boolean;
  /** Its spec or annotation asks for routing by zone (see the file comment). */
  routesByZone: boolean;
  /** routesByZone, or an EndpointSlice of it has zone hints: what the flows carry. */
  topologyAware: boolean;
}

/** A port of an EndpointSlice: number and transport as the receivers write it (`tcp`, `udp`, `sctp`). */
export interface SlicePort {
  port: number;
  transport: string;
}

export interface Slice {
  /** Unique per version of a slice: names the groups it is in. */
  readonly id: number;
  readonly service: ServiceEntry;
  readonly addresses: readonly string[];
  /** undefined: every port (an EndpointSlice with no ports). */
  readonly ports: readonly SlicePort[] | undefined;
  /** An endpoint of it has hints.forZones (the EndpointSlice controller routes it by zone). */
  readonly zoneHints: boolean;
}

/** Older Service first, then by namespace/name: the order rule 3 picks in. */
function earlier(a: Slice, b: Slice): number {
  return a.service.created - b.service.created || a.service.namespace.localeCompare(b.service.namespace) || a.service.name.localeCompare(b.service.name);
}

/** A port and transport as one number; -1 (no port and transport gives it) stands for every port. */
const EVERY_PORT = -1;
function portKey(port: number, transport: string): number {
  const t = transport === 'tcp' ? 1 : transport === 'udp' ? 2 : transport === 'sctp' ? 3 : 0;
  return port * 4 + t;
}

/**
 * What an address resolves to, precomputed from its slices when they change
 * so that naming a destination touches one object and one array (the lookup
 * is on the hot path; following slices, ports and Services cost a cache miss
 * each): `keys[i]` (portKey, or EVERY_PORT) is served by `services[i]`, in
 * rule order; `fallback` is rule 2's answer; `everyPort` the answer for
 * every port and transport when there is one (all of `services` are
 * `fallback`: the address backs one Service), else PORT_DEPENDENT.
 */
interface Choice {
  readonly keys: readonly number[];
  readonly services: readonly ServiceEntry[];
  readonly fallback: ServiceEntry | undefined;
  readonly everyPort: ServiceEntry | typeof PORT_DEPENDENT;
}

/** ServiceIndex.serviceAtEveryPort: the Service of an address depends on the flow's port and transport. */
export const PORT_DEPENDENT = null;

/**
 * The slices that list an address, and its Choice: one object shared by
 * every address with the same slices (the endpoints of a Service usually
 * are), which keeps the memory per endpoint to a Map entry.
 */
interface Group {
  /** The slices' ids, sorted: equal for equal sets. */
  readonly key: string;
  /** In rule-3 order (re-sorted when a Service's age changes). */
  readonly slices: Slice[];
  choice: Choice | undefined;
  /** Addresses pointing at it; forgotten at 0. */
  users: number;
}

function choiceOf(slices: readonly Slice[]): Choice | undefined {
  const keys: number[] = [];
  const services: ServiceEntry[] = [];
  let fallback: ServiceEntry | undefined;
  for (const slice of slices) {
    if (slice.service.externalName) continue;
    fallback ??= slice.service;
    for (const p of slice.ports ?? [undefined]) {
      keys.push(p === undefined ? EVERY_PORT : portKey(p.port, p.transport));
      services.push(slice.service);
    }
  }
  // Copies of exact length: a pushed-to array keeps room for 17 elements, and there is one Choice per Service.
  if (fallback === undefined) return undefined;
  const everyPort = services.every((s) => s === fallback) ? fallback : PORT_DEPENDENT;
  return { keys: keys.slice(), services: services.slice(), fallback, everyPort };
}

/** Sets `s.topologyAware` from its spec, annotation and slices (see the file comment). */
function topologyOf(s: ServiceEntry): void {
  s.topologyAware = s.routesByZone || s.slices.some((slice) => slice.zoneHints);
}

export class ServiceIndex {
  readonly #services = new Map<string, ServiceEntry>();
  readonly #slices = new Map<string, Slice>();
  /** Endpoint address -> the group of slices listing it. */
  readonly #byAddress = new Map<string, Group>();
  readonly #groups = new Map<string, Group>();
  #sliceIds = 0;
  readonly #byClusterIp = new Map<string, ServiceEntry>();
  readonly #newIdentity: () => number;
  readonly #intern: (s: string) => string;

  constructor(newIdentity: () => number, intern: (s: string) => string) {
    this.#newIdentity = newIdentity;
    this.#intern = intern;
  }

  get serviceCount(): number {
    let n = 0;
    for (const s of this.#services.values()) if (s.live) n++;
    return n;
  }

  get sliceCount(): number {
    return this.#slices.size;
  }

  /**
   * The Service a destination at `address` is in, for a flow to `port` over
   * `transport`, by the rule above; undefined when no Service (other than an
   * ExternalName one) has it as an endpoint.
   */
  serviceAt(address: string, port: number, transport: string): ServiceEntry | undefined {
    if (this.#byAddress.size === 0) return undefined;
    const choice = this.#byAddress.get(address)?.choice;
    if (choice === undefined) return undefined;
    const key = portKey(port, transport);
    const keys = choice.keys;
    for (let i = 0; i < keys.length; i++) if (keys[i] === key || keys[i] === EVERY_PORT) return choice.services[i];
    return choice.fallback;
  }

  /**
   * What serviceAt() says for `address` whatever the port and transport, or
   * PORT_DEPENDENT when that depends on them (the address backs Services
   * that publish different ports): lets a caller name a destination once
   * for all its flows.
   */
  serviceAtEveryPort(address: string): ServiceEntry | undefined | typeof PORT_DEPENDENT {
    if (this.#byAddress.size === 0) return undefined;
    return this.#byAddress.get(address)?.choice?.everyPort;
  }

  /** The Service whose ClusterIP `address` is (a flow seen before kube-proxy's DNAT, by the cgroup receiver). */
  serviceByClusterIp(address: string): ServiceEntry | undefined {
    return this.#byClusterIp.size === 0 ? undefined : this.#byClusterIp.get(address);
  }

  upsertService(namespace: string, name: string, created: number, externalName: boolean, clusterIps: readonly string[], routesByZone = false): void {
    const s = this.#service(namespace, name);
    s.live = true;
    s.routesByZone = routesByZone;
    topologyOf(s);
    const rechoose = s.externalName !== externalName || s.created !== created;
    s.externalName = externalName;
    for (const ip of s.clusterIps) if (this.#byClusterIp.get(ip) === s) this.#byClusterIp.delete(ip);
    // A copy of exact length: the caller's may have been built by filter or push, with room to grow.
    s.clusterIps = externalName ? [] : [...clusterIps];
    for (const ip of s.clusterIps) this.#byClusterIp.set(ip, s);
    s.created = created;
    // Its rank among the Services of its addresses, or whether it counts at all, may have changed.
    if (!rechoose) return;
    const groups = new Set<Group>();
    for (const slice of s.slices) for (const a of slice.addresses) groups.add(this.#byAddress.get(a)!);
    for (const g of groups) {
      g.slices.sort(earlier);
      g.choice = choiceOf(g.slices);
    }
  }

  deleteService(namespace: string, name: string): void {
    const s = this.#services.get(`${namespace}/${name}`);
    if (s === undefined) return;
    for (const ip of s.clusterIps) if (this.#byClusterIp.get(ip) === s) this.#byClusterIp.delete(ip);
    s.clusterIps = [];
    s.live = false;
    s.routesByZone = false;
    topologyOf(s);
    if (s.slices.length === 0) this.#services.delete(`${namespace}/${name}`);
  }

  /**
   * Adds or replaces the EndpointSlice `namespace/name` of Service
   * `serviceName` (its `kubernetes.io/service-name` label). `ports`
   * undefined: the slice lists no ports, so every port is the Service's.
   */
  upsertSlice(namespace: string, name: string, serviceName: string, addresses: readonly string[], ports: readonly SlicePort[] | undefined, zoneHints = false): void {
    const key = `${namespace}/${name}`;
    this.deleteSlice(namespace, name);
    const service = this.#service(namespace, serviceName);
    const slice: Slice = { id: this.#sliceIds++, service, addresses, ports, zoneHints };
    // A new array of exact length rather than push (which leaves room for 17): most Services have one slice.
    service.slices = [...service.slices, slice];
    topologyOf(service);
    this.#slices.set(key, slice);
    for (const a of addresses) {
      const old = this.#byAddress.get(a);
      this.#regroup(a, old === undefined ? [slice] : [...old.slices, slice], old);
    }
  }

  deleteSlice(namespace: string, name: string): void {
    const key = `${namespace}/${name}`;
    const slice = this.#slices.get(key);
    if (slice === undefined) return;
    this.#slices.delete(key);
    for (const a of slice.addresses) {
      const old = this.#byAddress.get(a);
      if (old !== undefined) this.#regroup(a, old.slices.filter((s) => s !== slice), old);
    }
    const s = slice.service;
    s.slices = s.slices.filter((x) => x !== slice);
    topologyOf(s);
    if (s.slices.length === 0 && !s.live) this.#services.delete(`${s.namespace}/${s.name}`);
  }

  /** Points `address` at the group of `slices` (none when empty), leaving `old`. */
  #regroup(address: string, slices: Slice[], old: Group | undefined): void {
    if (old !== undefined && --old.users === 0) this.#groups.delete(old.key);
    if (slices.length === 0) {
      this.#byAddress.delete(address);
      return;
    }
    const key = slices
      .map((s) => s.id)
      .sort((a, b) => a - b)
      .join(',');
    let group = this.#groups.get(key);
    if (group === undefined) {
      slices.sort(earlier);
      group = { key, slices, choice: choiceOf(slices), users: 0 };
      this.#groups.set(key, group);
    }
    group.users++;
    this.#byAddress.set(address, group);
  }

  #service(namespace: string, name: string): ServiceEntry {
    const key = `${namespace}/${name}`;
    let s = this.#services.get(key);
    if (s === undefined) {
      s = { kind: SERVICE, identity: this.#newIdentity(), namespace: this.#intern(namespace), name: this.#intern(name), created: 0, externalName: false, clusterIps: [], slices: [], live: false, routesByZone: false, topologyAware: false };
      this.#services.set(key, s);
    }
    return s;
  }
}
