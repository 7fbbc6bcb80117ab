/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The straightforward algorithm of Polar Signals' kubezonnet, written for the
 * benchmarks (reference.bpf.c at netfilter, reference-cgroup.bpf.c at cgroup
 * egress): one hash map shared by all CPUs, keyed by the IPv4 4-tuple;
 * lookup, atomic add on a hit, insert on a miss (racy: two CPUs inserting
 * the same new flow overwrite each other; a full map drops the flow).
 */
#ifndef ZONETAP_BENCH_REFERENCE_BPF_H
#define ZONETAP_BENCH_REFERENCE_BPF_H

struct reference_key {
	__u32 saddr;
	__u32 daddr;
	__u16 sport;
	__u16 dport;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, struct reference_key);
	__type(value, __u64); /* bytes (IP total length) */
} reference_flows SEC(".maps");

static __always_inline void add_reference(struct reference_key *key, __u64 bytes)
{
	__u64 *value = bpf_map_lookup_elem(&reference_flows, key);
	if (value)
		__sync_fetch_and_add(value, bytes);
	else
		bpf_map_update_elem(&reference_flows, key, &bytes, BPF_ANY);
}

#endif
