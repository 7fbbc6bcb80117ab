/**
 * A simulated cluster's topology: regions and zones, nodes, pods and the
 * internet, read from a small YAML file (sim/topologies/*.yaml), and the
 * address plan that turns it into network namespaces.
 *
 * Address plan (node index i from 0, pod index j on its node from 0):
 * - underlay (node addresses, as a node's InternalIP): 10.255.0.(i+1)/24, fd00:ff::(i+1)/64
 * - internet gateway on the underlay:                  10.255.0.254,      fd00:ff::fe
 * - pod CIDR of node i: 10.(i+1).0.0/24, fd01:0:0:(i+1)::/64; pod j: .(j+10)
 * - the internet answers on all of 203.0.113.0/24 and 2001:db8::/32.
 */
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { z } from 'zod';
import { containerCgroupPath, podCgroupPath, uidOf, type CgroupDriver } from './cgroups.ts';

const NAME = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/;
const name = (what: string) =>
  z.string().regex(NAME, `a ${what} name is lower-case letters, digits and '-', like node-a`).max(40, `a ${what} name has at most 40 characters`);

const workloadSchema = z.strictObject({ kind: z.string().min(1), name: z.string().min(1) });

const podSchema = z.strictObject({
  namespace: name('namespace'),
  name: name('pod'),
  /** Absent: a bare pod, its own workload. */
  workload: workloadSchema.optional(),
  node: name('node'),
  /**
   * True: the pod is listed in the inventory (so its bytes resolve) but its
   * namespace is created and deleted by the scenario (a Job's pod), not at build.
   */
  ephemeral: z.boolean().default(false),
  /** True: the pod shares its node's network namespace and addresses (its own cgroup still names it). */
  hostNetwork: z.boolean().default(false),
});

const topologySchema = z
  .strictObject({
    /** Used in namespace names: `zt-<name>-...`. */
    name: z.string().regex(/^[a-z0-9]{1,12}$/, 'a topology name is 1-12 lower-case letters or digits'),
    /** region -> its zones. */
    regions: z.record(name('region'), z.array(name('zone')).min(1)),
    nodes: z
      .array(
        z.strictObject({
          name: name('node'),
          zone: name('zone'),
          /**
           * `netfilter`: pods' packets are routed by the node's IP stack, across its netfilter
           * hooks (a Calico-style CNI). `host-routing`: an eBPF tc program routes them around it
           * (bpf_redirect_neigh, as Cilium's eBPF host routing does): netfilter never sees them.
           */
          datapath: z.enum(['netfilter', 'host-routing']).default('netfilter'),
          /** How the kubelet names the node's cgroups. */
          cgroup_driver: z.enum(['systemd', 'cgroupfs']).default('systemd'),
        }),
      )
      .min(1)
      .max(200),
    pods: z.array(podSchema).default([]),
  })
  .superRefine((t, ctx) => {
    const zones = new Set(Object.values(t.regions).flat());
    const nodeNames = new Set<string>();
    t.nodes.forEach((n, i) => {
      if (!zones.has(n.zone)) ctx.addIssue({ code: 'custom', path: ['nodes', i, 'zone'], message: `zone "${n.zone}" is in no region` });
      if (nodeNames.has(n.name)) ctx.addIssue({ code: 'custom', path: ['nodes', i, 'name'], message: `duplicate node "${n.name}"` });
      nodeNames.add(n.name);
    });
    const podNames = new Set<string>();
    const perNode = new Map<string, number>();
    t.pods.forEach((p, i) => {
      if (!nodeNames.has(p.node)) ctx.addIssue({ code: 'custom', path: ['pods', i, 'node'], message: `unknown node "${p.node}"` });
      const key = `${p.namespace}/${p.name}`;
      if (podNames.has(key)) ctx.addIssue({ code: 'custom', path: ['pods', i, 'name'], message: `duplicate pod "${key}"` });
      podNames.add(key);
      perNode.set(p.node, (perNode.get(p.node) ?? 0) + 1);
      if (perNode.get(p.node)! > 200) ctx.addIssue({ code: 'custom', path: ['pods', i], message: `more than 200 pods on node "${p.node}"` });
    });
  });

export type Topology = z.infer<typeof topologySchema>;
export type PodSpec = z.infer<typeof podSchema>;

/** Validates a topology object; throws with every problem and its path. */
export function parseTopology(input: unknown, source = 'topology'): Topology {
  const result = topologySchema.safeParse(input);
  if (result.success) return result.data;
  const problems = result.error.issues.map((i) => `  ${i.path.join('.') || '(root)'}: ${i.message}`);
  throw new Error(`invalid ${source}:\n${problems.join('\n')}`);
}

export function loadTopology(path: string): Topology {
  return parseTopology(parse(readFileSync(path, 'utf8')), path);
}

/** Addresses are IPv4 first, then IPv6. */
export interface PlannedNode {
  name: string;
  zone: string;
  region: string;
  index: number;
  netns: string;
  addresses: [string, string];
  podCidrs: [string, string];
  datapath: 'netfilter' | 'host-routing';
  cgroupDriver: CgroupDriver;
  /** The node's cgroup, as a path in the cgroup v2 hierarchy (`/<prefix>n-<node>`): the cgroup receiver attaches here. */
  cgroup: string;
}

export interface PlannedPod {
  spec: PodSpec;
  node: PlannedNode;
  /** Index on its node: names the node-side veth `p<index>`. */
  index: number;
  /** Its own namespace, or its node's for a hostNetwork pod. */
  netns: string;
  /** Its own, or its node's for a hostNetwork pod. */
  addresses: [string, string];
  /** metadata.uid: stable, from the pod's namespace and name. */
  uid: string;
  /** Its container's cgroup, as a path in the cgroup v2 hierarchy, laid out like the kubelet's. */
  cgroup: string;
}

export interface Plan {
  topology: Topology;
  /** Every namespace and nothing else of the simulation starts with this. */
  prefix: string;
  underlayNetns: string;
  internetNetns: string;
  nodes: PlannedNode[];
  pods: PlannedPod[];
}

export const UNDERLAY_GATEWAY: [string, string] = ['10.255.0.254', 'fd00:ff::fe'];
/** Prefixes routed to the simulated internet (documentation ranges, never routed anywhere real). */
export const INTERNET_CIDRS: [string, string] = ['203.0.113.0/24', '2001:db8::/32'];
/** Where pods find their node (as Calico does): an on-link address on every node-side veth. */
export const POD_GATEWAY: [string, string] = ['169.254.1.1', 'fe80::1'];

/** Namespace-name prefix of a scenario: `zt-<scenario>-`. */
export function prefixOf(scenario: string): string {
  return `zt-${scenario}-`;
}

export function planCluster(topology: Topology, scenario = topology.name): Plan {
  const prefix = prefixOf(scenario);
  const regionOf = new Map<string, string>();
  for (const [region, zones] of Object.entries(topology.regions)) for (const zone of zones) regionOf.set(zone, region);
  const nodes: PlannedNode[] = topology.nodes.map((n, i) => ({
    name: n.name,
    zone: n.zone,
    region: regionOf.get(n.zone)!,
    index: i,
    netns: `${prefix}n-${n.name}`,
    addresses: [`10.255.0.${i + 1}`, `fd00:ff::${(i + 1).toString(16)}`],
    podCidrs: [`10.${i + 1}.0.0/24`, `fd01:0:0:${(i + 1).toString(16)}::/64`],
    datapath: n.datapath,
    cgroupDriver: n.cgroup_driver,
    cgroup: `/${prefix}n-${n.name}`,
  }));
  const byName = new Map(nodes.map((n) => [n.name, n]));
  const counts = new Map<string, number>();
  const pods: PlannedPod[] = topology.pods.map((spec) => {
    const node = byName.get(spec.node)!;
    const j = counts.get(node.name) ?? 0;
    counts.set(node.name, j + 1);
    const uid = uidOf(`${spec.namespace}/${spec.name}`);
    const podPath = podCgroupPath(node.cgroupDriver, 'burstable', uid);
    return {
      spec,
      node,
      index: j,
      netns: spec.hostNetwork ? node.netns : `${prefix}p-${spec.namespace}-${spec.name}`,
      addresses: spec.hostNetwork ? node.addresses : [`10.${node.index + 1}.0.${j + 10}`, `fd01:0:0:${(node.index + 1).toString(16)}::${(j + 10).toString(16)}`],
      uid,
      cgroup: `${node.cgroup}/${containerCgroupPath(node.cgroupDriver, podPath, uidOf(`${uid}/container`).replaceAll('-', ''))}`,
    };
  });
  return { topology, prefix, underlayNetns: `${prefix}x-underlay`, internetNetns: `${prefix}x-internet`, nodes, pods };
}
