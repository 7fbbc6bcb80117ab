// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * zonetap's flow counter: a netfilter program on NF_INET_POST_ROUTING (IPv4
 * and IPv6, one link per family) that adds each packet's wire bytes and
 * packets to its flow in a per-CPU hash. It never changes traffic.
 * See README.md for the double-buffered table and why nothing is lost.
 */
#include <linux/bpf.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "kernel.h"
#include "flows.h"

#define NF_ACCEPT 1
#define NFPROTO_IPV4 2
#define NFPROTO_IPV6 10
#define EEXIST 17
#define IPV6_EXT_MAX 4

/* Reads kernel memory with plain loads (faults read as zero): cheaper than bpf_probe_read_kernel. */
extern void *bpf_rdonly_cast(const void *obj, __u32 btf_id) __ksym;
#define KERNEL_PTR(type, addr) ((type *)bpf_rdonly_cast((void *)(addr), bpf_core_type_id_kernel(type)))

/* A flow table: key = flow, value = this CPU's counters (user space sums the CPUs). */
struct flow_table {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 65536); /* max_flows, set before load */
	__type(key, struct flow_key);
	__type(value, struct flow_counters);
};
struct flow_table flows_a SEC(".maps"), flows_b SEC(".maps");

/* Slot 0 holds the table the program writes; user space swaps it, which waits
 * for running programs (synchronize_rcu), then drains the other one. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 1);
	__type(key, __u32);
	__array(values, struct flow_table);
} active_flows SEC(".maps") = {
	.values = { [0] = &flows_a },
};

/* Traffic of flows that found the active table full (monotonic, per CPU);
 * key 0: IPv4, key 1: IPv6. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, struct overflow_counters);
} overflow SEC(".maps");

/* Atomic adds: a softirq can interrupt a process-context run on the same CPU. */
static __always_inline void count(struct flow_key *key, __u64 bytes, __u64 packets)
{
	__u32 zero = 0;
	void *table = bpf_map_lookup_elem(&active_flows, &zero);
	if (!table)
		return;
	struct flow_counters *c = bpf_map_lookup_elem(table, key);
	if (!c) {
		struct flow_counters first = { .bytes = bytes, .packets = packets };
		long err = bpf_map_update_elem(table, key, &first, BPF_NOEXIST);
		if (!err)
			return;
		/* -EEXIST: another CPU inserted the flow first; add to our slot. */
		if (err == -EEXIST)
			c = bpf_map_lookup_elem(table, key);
	}
	if (c) {
		__sync_fetch_and_add(&c->bytes, bytes);
		__sync_fetch_and_add(&c->packets, packets);
		return;
	}
	__u32 family = key->family == ZT_FAMILY_IPV6;
	struct overflow_counters *o = bpf_map_lookup_elem(&overflow, &family);
	if (o) {
		__sync_fetch_and_add(&o->bytes, bytes);
		__sync_fetch_and_add(&o->packets, packets);
		__sync_fetch_and_add(&o->failed_inserts, 1);
	}
}

/* Walks IPv6 extension headers to the transport header; returns its offset from
 * the IPv6 header, or 0 when it gave up (protocol then says where it stopped). */
static __always_inline __u32 ipv6_transport(unsigned char *ip6, __u8 *protocol)
{
	__u32 off = sizeof(struct ipv6hdr);
#pragma unroll
	for (int i = 0; i < IPV6_EXT_MAX; i++) {
		switch (*protocol) {
		case IPPROTO_HOPOPTS:
		case IPPROTO_ROUTING:
		case IPPROTO_DSTOPTS: {
			struct ipv6_opt_hdr *h = KERNEL_PTR(struct ipv6_opt_hdr, ip6 + off);
			*protocol = h->nexthdr;
			off += (h->hdrlen + 1) * 8;
			break;
		}
		case IPPROTO_AH: {
			struct ipv6_opt_hdr *h = KERNEL_PTR(struct ipv6_opt_hdr, ip6 + off);
			*protocol = h->nexthdr;
			off += (h->hdrlen + 2) * 4;
			break;
		}
		case IPPROTO_FRAGMENT: {
			struct frag_hdr *h = KERNEL_PTR(struct frag_hdr, ip6 + off);
			*protocol = h->nexthdr;
			if (h->frag_off & bpf_htons(0xfff8))
				return 0; /* not the first fragment: no ports */
			off += sizeof(struct frag_hdr);
			break;
		}
		default:
			return off;
		}
	}
	return 0;
}

SEC("netfilter")
int count_flows(struct bpf_nf_ctx *ctx)
{
	struct sk_buff *skb = ctx->skb;
	unsigned char *ip = skb->head + skb->network_header;
	struct flow_key key = {};
	__u32 l3_len, l4_off = 0, hdr_len;
	__u64 len = skb->len; /* IP length at POSTROUTING; tot_len is 0 for BIG TCP */

	if (ctx->state->pf == NFPROTO_IPV4) {
		struct iphdr *h = KERNEL_PTR(struct iphdr, ip);
		l3_len = h->ihl * 4;
		key.family = ZT_FAMILY_IPV4;
		key.protocol = h->protocol;
		__builtin_memcpy(key.saddr, &h->saddr, 4);
		__builtin_memcpy(key.daddr, &h->daddr, 4);
		if (!(h->frag_off & bpf_htons(0x1fff)))
			l4_off = l3_len;
	} else if (ctx->state->pf == NFPROTO_IPV6) {
		struct ipv6hdr *h = KERNEL_PTR(struct ipv6hdr, ip);
		l3_len = sizeof(struct ipv6hdr);
		key.family = ZT_FAMILY_IPV6;
		key.protocol = h->nexthdr;
		__builtin_memcpy(key.saddr, &h->saddr, 16);
		__builtin_memcpy(key.daddr, &h->daddr, 16);
		l4_off = ipv6_transport(ip, &key.protocol);
	} else {
		return NF_ACCEPT;
	}

	hdr_len = l4_off ? l4_off : l3_len; /* headers repeated in every segment */
	if (l4_off && (key.protocol == IPPROTO_TCP || key.protocol == IPPROTO_UDP)) {
		struct udphdr *ports = KERNEL_PTR(struct udphdr, ip + l4_off);
		key.sport = ports->source;
		key.dport = ports->dest;
		hdr_len += key.protocol == IPPROTO_UDP ? sizeof(struct udphdr)
						       : KERNEL_PTR(struct tcphdr, ip + l4_off)->doff * 4;
	}

	/* A GSO super-packet becomes gso_segs packets, each with its own headers. */
	struct skb_shared_info *shinfo = KERNEL_PTR(struct skb_shared_info, skb->head + skb->end);
	__u64 packets = 1;
	if (shinfo->gso_size) {
		packets = shinfo->gso_segs ?: 1;
		len += (packets - 1) * hdr_len;
	} else {
		/* A datagram longer than the MTU is fragmented after this hook (IPv6 adds an 8-byte fragment header). */
		const struct net_device *out = ctx->state->out;
		__u32 mtu = out ? out->mtu : 0;
		if (mtu && len > mtu) {
			__u32 frag_hdr = key.family == ZT_FAMILY_IPV6 ? sizeof(struct frag_hdr) : 0;
			__u32 chunk = (mtu - l3_len - frag_hdr) & ~7U;
			__u64 payload = len - l3_len;
			if (chunk) {
				packets = (payload + chunk - 1) / chunk;
				len = payload + packets * (l3_len + frag_hdr);
			}
		}
	}

	count(&key, len, packets);
	return NF_ACCEPT;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
