/**
 * Builds a simulated cluster in network namespaces and tears it down.
 *
 * Shape (every box is a network namespace; nothing touches the root namespace):
 *
 *   pod ──veth──▶ node ──veth──▶ underlay (bridge br0) ◀──veth── node ◀──veth── pod
 *                                      ▲
 *                                      └──veth── internet (203.0.113.0/24, 2001:db8::/32)
 *
 * Routed like a typical CNI (Calico): a pod holds a /32 and a /128 with a
 * default route via 169.254.1.1 / fe80::1 on its eth0; the node-side veth holds
 * those gateway addresses, the node has a host route per pod and routes to the
 * other nodes' pod CIDRs via their underlay addresses, forwarding on. A packet
 * from a pod to anywhere else is forwarded by its node, so it crosses the node
 * namespace's netfilter POSTROUTING hook, where the netfilter receiver counts it
 * (it crosses the destination node's POSTROUTING too, with a source that is not
 * local there: agents keep only flows whose source is on their node).
 *
 * A `host-routing` node routes its pods' packets with an eBPF tc program
 * instead (host-routing.ts): they never cross its netfilter hooks. Every pod
 * process runs in its container's cgroup, laid out like the kubelet's
 * (cgroups.ts); a hostNetwork pod has no namespace of its own, only its cgroup.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Plan, PlannedNode, PlannedPod, PodSpec, Topology } from './topology.ts';
import { INTERNET_CIDRS, POD_GATEWAY, UNDERLAY_GATEWAY, planCluster } from './topology.ts';
import { deleteLink, deleteNetns, ip, ipBatch, removeNamespaces, sysctl } from './netns.ts';
import { cgroupMount, removeCgroupTree, removeCgroups } from './cgroups.ts';
import { routeAroundNetfilter } from './host-routing.ts';
import { PodProcess, type PodProgram } from './traffic.ts';

const NO_DAD = { 'net.ipv6.conf.all.accept_dad': 0, 'net.ipv6.conf.default.accept_dad': 0 };

export class Cluster {
  readonly plan: Plan;
  #live = new Set<string>();
  #running = new Set<PlannedPod>();
  #destroyed = false;
  readonly #podWatchers = new Set<() => void>();

  private constructor(plan: Plan) {
    this.plan = plan;
  }

  /**
   * Removes what an earlier run of the same scenario left behind, then builds
   * the underlay, the internet, the nodes and every non-ephemeral pod.
   * On failure, removes what it built and rethrows.
   */
  static async build(topology: Topology, options: { scenario?: string } = {}): Promise<Cluster> {
    const cluster = new Cluster(planCluster(topology, options.scenario));
    removeNamespaces(cluster.plan.prefix);
    removeCgroups(cluster.plan.prefix);
    try {
      await cluster.#buildUnderlay();
      await cluster.#buildInternet();
      await Promise.all(cluster.plan.nodes.map((n) => cluster.#buildNode(n)));
      await Promise.all(cluster.plan.pods.filter((p) => !p.spec.ephemeral).map((p) => cluster.#buildPod(p)));
    } catch (error) {
      cluster.destroy();
      throw error;
    }
    return cluster;
  }

  get prefix(): string {
    return this.plan.prefix;
  }

  /** Where the cgroup v2 hierarchy is mounted (the pods' and nodes' cgroup paths are below it). */
  get cgroupRoot(): string {
    return cgroupMount();
  }

  /** Runs `program` as `pod`: in its network namespace and its container's cgroup. */
  run(pod: PlannedPod, program: PodProgram): PodProcess {
    return new PodProcess(pod.netns, program, { cgroup: join(this.cgroupRoot, pod.cgroup) });
  }

  node(name: string): PlannedNode {
    const node = this.plan.nodes.find((n) => n.name === name);
    if (!node) throw new Error(`no node "${name}" in topology "${this.plan.topology.name}"`);
    return node;
  }

  /** A pod by `namespace/name` or by name alone when that is unique. */
  pod(ref: string): PlannedPod {
    const matches = this.plan.pods.filter((p) => `${p.spec.namespace}/${p.spec.name}` === ref || p.spec.name === ref);
    if (matches.length !== 1) throw new Error(`${matches.length === 0 ? 'no' : 'more than one'} pod "${ref}" in topology "${this.plan.topology.name}"`);
    return matches[0]!;
  }

  /** Pods of a workload, in topology order. */
  podsOf(workloadName: string): PlannedPod[] {
    return this.plan.pods.filter((p) => (p.spec.workload?.name ?? p.spec.name) === workloadName);
  }

  /** True while the pod runs (ephemeral pods: between start and stop). */
  isRunning(pod: PlannedPod): boolean {
    return this.#running.has(pod);
  }

  /**
   * Calls `listener` after each ephemeral pod starts or stops, as a watch on
   * the API server would report it (sim/deployment.ts rewrites the inventory).
   * Returns the function that stops the calls.
   */
  watchPods(listener: () => void): () => void {
    this.#podWatchers.add(listener);
    return () => this.#podWatchers.delete(listener);
  }

  /** Creates an ephemeral pod's namespace and cgroup (a Job's pod starting). */
  async startPod(pod: PlannedPod): Promise<void> {
    if (this.#destroyed) throw new Error('the cluster was destroyed');
    if (this.#running.has(pod)) throw new Error(`pod ${pod.spec.namespace}/${pod.spec.name} is already running`);
    await this.#buildPod(pod);
    for (const listener of this.#podWatchers) listener();
  }

  /** Deletes a pod's namespace and the processes in it; its node's routes to it go with its veth. */
  stopPod(pod: PlannedPod): void {
    removeCgroupTree(join(this.cgroupRoot, pod.cgroup, '..'));
    if (!pod.spec.hostNetwork) {
      // The kernel dismantles a deleted namespace asynchronously; delete the veth
      // pair now so the node's routes to the pod go at once and the name is free.
      deleteLink(pod.node.netns, `p${pod.index}`);
      deleteNetns(pod.netns);
      this.#live.delete(pod.netns);
    }
    this.#running.delete(pod);
    for (const listener of this.#podWatchers) listener();
  }

  /** Removes every namespace and cgroup of the scenario and the processes inside them. Idempotent. */
  destroy(): void {
    this.#destroyed = true;
    removeNamespaces(this.plan.prefix);
    removeCgroups(this.plan.prefix);
    this.#live.clear();
    this.#running.clear();
  }

  async #createNetns(netns: string, settings: Record<string, string | number>): Promise<void> {
    await ip(['netns', 'add', netns]);
    this.#live.add(netns);
    await sysctl(netns, settings);
    await ipBatch(netns, ['link set lo up']);
  }

  async #buildUnderlay(): Promise<void> {
    const ns = this.plan.underlayNetns;
    // A pure L2 switch: no addresses, no IPv6 chatter from the bridge ports.
    await this.#createNetns(ns, { 'net.ipv6.conf.all.disable_ipv6': 1, 'net.ipv6.conf.default.disable_ipv6': 1 });
    await ipBatch(ns, ['link add br0 type bridge', 'link set br0 up']);
  }

  async #buildInternet(): Promise<void> {
    const ns = this.plan.internetNetns;
    await this.#createNetns(ns, NO_DAD);
    await ip(['-n', this.plan.underlayNetns, 'link', 'add', 'inet', 'type', 'veth', 'peer', 'name', 'ul0', 'netns', ns]);
    await ipBatch(this.plan.underlayNetns, ['link set inet master br0', 'link set inet up']);
    const [gw4, gw6] = UNDERLAY_GATEWAY;
    const commands = [
      `addr add ${gw4}/24 dev ul0`,
      `addr add ${gw6}/64 dev ul0 nodad`,
      'link set ul0 up',
      // Answer on every address of the documentation ranges (AnyIP).
      `route add local ${INTERNET_CIDRS[0]} dev lo`,
      `route add local ${INTERNET_CIDRS[1]} dev lo`,
    ];
    for (const node of this.plan.nodes) {
      commands.push(`route add ${node.podCidrs[0]} via ${node.addresses[0]}`, `route add ${node.podCidrs[1]} via ${node.addresses[1]}`);
    }
    await ipBatch(ns, commands);
  }

  async #buildNode(node: PlannedNode): Promise<void> {
    await this.#createNetns(node.netns, { ...NO_DAD, 'net.ipv4.ip_forward': 1, 'net.ipv6.conf.all.forwarding': 1 });
    const uplink = `n${node.index}`;
    await ip(['-n', this.plan.underlayNetns, 'link', 'add', uplink, 'type', 'veth', 'peer', 'name', 'ul0', 'netns', node.netns]);
    await ipBatch(this.plan.underlayNetns, [`link set ${uplink} master br0`, `link set ${uplink} up`]);
    const commands = [`addr add ${node.addresses[0]}/24 dev ul0`, `addr add ${node.addresses[1]}/64 dev ul0 nodad`, 'link set ul0 up'];
    for (const other of this.plan.nodes) {
      if (other === node) continue;
      commands.push(`route add ${other.podCidrs[0]} via ${other.addresses[0]}`, `route add ${other.podCidrs[1]} via ${other.addresses[1]}`);
    }
    commands.push(`route add default via ${UNDERLAY_GATEWAY[0]}`, `route add ::/0 via ${UNDERLAY_GATEWAY[1]}`);
    await ipBatch(node.netns, commands);
    mkdirSync(join(this.cgroupRoot, node.cgroup), { recursive: true });
    if (node.datapath === 'host-routing') await routeAroundNetfilter(node.netns, 'ul0');
  }

  async #buildPod(pod: PlannedPod): Promise<void> {
    const { node } = pod;
    mkdirSync(join(this.cgroupRoot, pod.cgroup), { recursive: true });
    this.#running.add(pod);
    if (pod.spec.hostNetwork) return; // its node's namespace and addresses
    await this.#createNetns(pod.netns, NO_DAD);
    const veth = `p${pod.index}`;
    await ip(['-n', node.netns, 'link', 'add', veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', pod.netns]);
    const [gw4, gw6] = POD_GATEWAY;
    await ipBatch(pod.netns, [
      `addr add ${pod.addresses[0]}/32 dev eth0`,
      `addr add ${pod.addresses[1]}/128 dev eth0 nodad`,
      'link set eth0 up',
      `route add ${gw4} dev eth0 scope link`,
      `route add default via ${gw4} dev eth0`,
      `route add ::/0 via ${gw6} dev eth0`,
    ]);
    await ipBatch(node.netns, [
      `addr add ${gw4}/32 dev ${veth}`,
      `addr add ${gw6}/64 dev ${veth} nodad`,
      `link set ${veth} up`,
      `route add ${pod.addresses[0]}/32 dev ${veth} scope link src ${node.addresses[0]}`,
      `route add ${pod.addresses[1]}/128 dev ${veth}`,
    ]);
    if (node.datapath === 'host-routing') await routeAroundNetfilter(node.netns, veth);
  }
}

export type { PodSpec };
