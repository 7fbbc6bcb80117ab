/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The flow table layout, shared by both eBPF objects (netfilter.bpf.c,
 * cgroup.bpf.c) and the native addon (native/), so that they cannot drift
 * apart. native/decode.ts mirrors the offsets; a test checks them against the
 * addon's sizeof().
 */
#ifndef ZONETAP_FLOWS_H
#define ZONETAP_FLOWS_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define ZT_FAMILY_IPV4 4
#define ZT_FAMILY_IPV6 6

/* One flow: both addresses (IPv4 in the first 4 bytes, rest zero), ports in
 * network byte order (0 when the protocol has none), family, L4 protocol and
 * the cgroup v2 id of the sending socket (cgroup receiver; 0 at netfilter,
 * which also sees packets without a socket). 48 bytes, no implicit padding:
 * the programs set every byte before hashing. */
struct flow_key {
	__u8 saddr[16];
	__u8 daddr[16];
	__be16 sport;
	__be16 dport;
	__u8 family;   /* ZT_FAMILY_IPV4 or ZT_FAMILY_IPV6 */
	__u8 protocol; /* IPPROTO_*; for IPv6 the last next-header reached */
	__u8 pad[2];
	__u64 cgroup_id;
} __attribute__((aligned(8))); /* compared as FLOW_KEY_WORDS u64 words */

#define FLOW_KEY_WORDS 6

/* Bytes and packets as sent on the wire: a GSO super-packet or a datagram
 * that IP fragments after the hook counts as the packets it becomes. */
struct flow_counters {
	__u64 bytes;
	__u64 packets;
};

/* Per-CPU flow cache: FLOW_CACHE_SLOTS entries, direct-mapped by a hash of
 * the key. A cached flow is counted without a hash lookup; it is written back
 * to the flow table when another flow takes its slot, or drained by user space.
 * 64 bytes: one cache line (the array's values are page-aligned, see
 * flow_table.bpf.h). While a run uses the entry it sets FLOW_CACHE_BUSY in the
 * key's pad (never set when user space reads the entry): a run that
 * interrupts it on the same CPU (softirq over process context) goes straight
 * to the table instead. */
#define FLOW_CACHE_BITS 10
#define FLOW_CACHE_SLOTS (1 << FLOW_CACHE_BITS)

struct flow_cache_entry {
	struct flow_key key;           /* pad[0]: FLOW_CACHE_BUSY while a run uses the entry */
	struct flow_counters counters; /* packets == 0: the entry is empty */
};

/* Traffic whose flow found no room in the table (it is full): counted here so
 * that totals are conserved. failed_inserts counts such packets. */
struct overflow_counters {
	__u64 bytes;
	__u64 packets;
	__u64 failed_inserts;
};

/* The source of a packet the cgroup program counted: when both receivers run
 * in one process, the netfilter program skips packets whose source the cgroup
 * program has recorded here (the same packet, seen again after forwarding),
 * so no packet is counted twice (README.md, "Both receivers on one node").
 * 24 bytes: address, port (network order), family, protocol, padding. */
struct socket_source {
	__u8 saddr[16];
	__be16 sport;
	__u8 family;
	__u8 protocol;
	__u32 pad;
};

/* The one value of the global section .data.hit_path (flow_table.bpf.h):
 * what the netfilter programs read on every packet besides the packet and its
 * flow cache entry, together in one cache line of one page. Written by user
 * space only: the settings before load, the generation at each drain (the
 * whole value, settings unchanged). */
struct hit_path_globals {
	__u32 cache_generation;   /* the flow cache generation the netfilter programs write (bit 0) */
	__u8 wide_header_loads;   /* netfilter: 8-byte header loads where the kernel allows them; 0 for tests */
	__u8 skip_socket_sources; /* netfilter: skip what a cgroup receiver in the same process counts */
	__u8 pad[2];
};

#endif
