/**
 * The first Linux version that offers each thing a zonetap eBPF object may
 * use: program types, helpers (by id, and for the program types that got them
 * later than they appeared), kfuncs, context fields, and instruction features.
 * Sources: the kernel commits named (versions from the isovalent/ebpf-docs
 * feature tags and the kernel's own history); bpf/README.md shows the table.
 * A use missing here fails the check: add it with its source.
 */

/** `major.minor`. */
export type Version = `${number}.${number}`;

export interface Availability {
  /** What it is, for the listing. */
  name: string;
  /** The first kernel with it (for a helper: for every program type zonetap uses it in, if later). */
  since: Version;
  /** The commit or document that says so. */
  source: string;
}

/** Program types by the ELF section libbpf reads them from. */
export const PROGRAM_TYPES: Record<string, Availability & { type: 'netfilter' | 'cgroup_skb' }> = {
  netfilter: { type: 'netfilter', name: 'BPF_PROG_TYPE_NETFILTER and its BPF_NETFILTER link', since: '6.4', source: '84601d6ee68a bpf: add bpf_link support for BPF_NETFILTER programs' },
  'cgroup_skb/egress': {
    type: 'cgroup_skb',
    name: 'BPF_PROG_TYPE_CGROUP_SKB (4.10, 0e33661de493) attached with a cgroup bpf_link (BPF_CGROUP_INET_EGRESS)',
    since: '5.7',
    source: 'bpf: Implement bpf_link-based cgroup BPF program attachment (Linux 5.7)',
  },
};

/**
 * Helpers by id. `since` is when the program types zonetap calls it from got
 * it: base helpers (every program type) from their introduction; cgroup_skb
 * ones from when cg_skb_func_proto offered them.
 */
export const HELPERS: Record<number, Availability> = {
  1: { name: 'bpf_map_lookup_elem', since: '3.19', source: 'the first eBPF map helpers, Linux 3.19 (base helper)' },
  2: { name: 'bpf_map_update_elem', since: '3.19', source: 'the first eBPF map helpers, Linux 3.19 (base helper)' },
  5: { name: 'bpf_ktime_get_ns', since: '4.1', source: 'd9847d310ab4 tracing: Allow BPF programs to call bpf_ktime_get_ns() (base helper)' },
  8: { name: 'bpf_get_smp_processor_id', since: '4.1', source: 'c04167ce2ca0 ebpf: add helper for obtaining current processor id (base helper)' },
  79: {
    name: 'bpf_skb_cgroup_id (cgroup_skb)',
    since: '5.3',
    source: 'cb20b08ead40 bpf: add bpf_skb_cgroup_id helper (4.18, tc); in cg_skb_func_proto by 5.3 at the latest (context of the 5.3 perf_event_output patch for cgroup_skb), before the 5.8 "expand cg_skb helpers" series that added its ancestor variant',
  },
};

/** Kfuncs by name. */
export const KFUNCS: Record<string, Availability> = {
  bpf_rdonly_cast: { name: 'bpf_rdonly_cast', since: '6.2', source: 'a35b9af4ec2c bpf: Add a kfunc for generic type cast' },
};

/** Context fields by program type and offset. */
export const CONTEXT_FIELDS: Record<'netfilter' | 'cgroup_skb', Record<number, Availability>> = {
  netfilter: {
    0: { name: 'bpf_nf_ctx.state', since: '6.4', source: 'the netfilter program context, with the program type (84601d6ee68a)' },
    8: { name: 'bpf_nf_ctx.skb', since: '6.4', source: 'the netfilter program context, with the program type (84601d6ee68a)' },
  },
  cgroup_skb: {
    0: { name: '__sk_buff.len', since: '4.1', source: '9bac3d6d548e bpf: allow extended BPF programs access skb fields' },
    16: { name: '__sk_buff.protocol', since: '4.1', source: 'c24973957975 bpf: allow BPF programs access skb->protocol' },
    40: { name: '__sk_buff.ifindex', since: '4.2', source: '37e82c2f974b bpf: allow programs to access skb->ifindex' },
    76: { name: '__sk_buff.data (direct packet access in cgroup_skb)', since: '4.20', source: 'bpf: add cg_skb_is_valid_access for BPF_PROG_TYPE_CGROUP_SKB (Linux 4.20; CAP_BPF instead of CAP_SYS_ADMIN from 5.8)' },
    80: { name: '__sk_buff.data_end (direct packet access in cgroup_skb)', since: '4.20', source: 'bpf: add cg_skb_is_valid_access for BPF_PROG_TYPE_CGROUP_SKB (Linux 4.20; CAP_BPF instead of CAP_SYS_ADMIN from 5.8)' },
    164: { name: '__sk_buff.gso_segs', since: '5.1', source: 'd9ff286a0f59 bpf: allow BPF programs access skb_shared_info->gso_segs field' },
    176: { name: '__sk_buff.gso_size', since: '5.7', source: 'cf62089b0edd bpf: Add gso_size to __sk_buff' },
  },
};

/** Instruction features the verifier accepted only from some version. */
export const INSTRUCTIONS: Record<'jmp32' | 'loop' | 'atomic_fetch', Availability> = {
  jmp32: { name: 'BPF_JMP32 instructions', since: '5.1', source: 'bpf: verifier support JMP32 (Linux 5.1)' },
  loop: { name: 'bounded loops (a back-edge in the program)', since: '5.3', source: 'bpf: introduce bounded loops (Linux 5.3)' },
  atomic_fetch: { name: 'atomic fetch/xchg/cmpxchg instructions', since: '5.12', source: 'bpf: Add instructions for atomic_[cmp]xchg, atomic fetch-and-op (Linux 5.12)' },
};

export function compareVersions(a: Version, b: Version): number {
  const [am, an] = a.split('.').map(Number) as [number, number];
  const [bm, bn] = b.split('.').map(Number) as [number, number];
  return am - bm || an - bn;
}
