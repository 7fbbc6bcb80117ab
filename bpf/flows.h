/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The flow table layout, shared by the eBPF program (flows.bpf.c) and the
 * native loader (native/), so that the two cannot drift apart. receivers/
 * netfilter/decode.ts mirrors the offsets; a test checks them.
 */
#ifndef ZONETAP_FLOWS_H
#define ZONETAP_FLOWS_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define ZT_FAMILY_IPV4 4
#define ZT_FAMILY_IPV6 6

/* One flow: both addresses (IPv4 in the first 4 bytes, rest zero), ports in
 * network byte order (0 when the protocol has none), family and L4 protocol.
 * 40 bytes, no implicit padding: the program zeroes every byte before hashing. */
struct flow_key {
	__u8 saddr[16];
	__u8 daddr[16];
	__be16 sport;
	__be16 dport;
	__u8 family;   /* ZT_FAMILY_IPV4 or ZT_FAMILY_IPV6 */
	__u8 protocol; /* IPPROTO_*; for IPv6 the last next-header reached */
	__u8 pad[2];
} __attribute__((aligned(8))); /* compared as five u64 words */

/* Bytes and packets as sent on the wire: a GSO super-packet or a datagram
 * that IP fragments after the hook counts as the packets it becomes. */
struct flow_counters {
	__u64 bytes;
	__u64 packets;
};

/* Per-CPU flow cache: FLOW_CACHE_SLOTS entries, direct-mapped by a hash of
 * the key. A cached flow is counted without a hash lookup; it is written back
 * to the flow table when another flow takes its slot, or drained by user space.
 * busy is set while a run uses the entry: a run that interrupts it on the same
 * CPU (softirq over process context) goes straight to the table instead. */
#define FLOW_CACHE_BITS 10
#define FLOW_CACHE_SLOTS (1 << FLOW_CACHE_BITS)

struct flow_cache_entry {
	struct flow_key key;
	struct flow_counters counters; /* packets == 0: the entry is empty */
	__u32 busy;
	__u32 pad;
};

/* Traffic whose flow found no room in the table (it is full): counted here so
 * that totals are conserved. failed_inserts counts such packets. */
struct overflow_counters {
	__u64 bytes;
	__u64 packets;
	__u64 failed_inserts;
};

#endif
