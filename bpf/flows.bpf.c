// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * zonetap's flow counter: netfilter programs on NF_INET_POST_ROUTING, one per
 * family (count_ipv4, count_ipv6), that add each packet's wire bytes and
 * packets to its flow (flow_table.bpf.h). They never change traffic.
 * README.md: the wire accounting, the flow cache and table, and why a drain
 * neither loses nor double-counts a packet.
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
#include "flow_table.bpf.h"

#define NF_ACCEPT 1
/* No link has a smaller MTU (IPv6: RFC 8200; IPv4: every real link carries
 * 576 bytes): shorter packets skip the fragmentation check. */
#define IPV6_MIN_MTU 1280
#define IPV4_SMALL_MTU 576
#define IPV6_EXT_MAX 4

/* Reads kernel memory with plain loads (faults read as zero): cheaper than bpf_probe_read_kernel. */
extern void *bpf_rdonly_cast(const void *obj, __u32 btf_id) __ksym;
#define KERNEL_PTR(type, addr) ((type *)bpf_rdonly_cast((void *)(addr), bpf_core_type_id_kernel(type)))

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

/* Set before load. 0 forces per-field header reads (so tests cover that path). */
const volatile __u8 wide_header_loads = 1;

/* IPv4 addresses, protocol and ports. With a kernel that casts to untyped
 * memory (BPF_FEAT_RDONLY_CAST_TO_VOID, Linux 6.18), three 8-byte loads read
 * the whole header when it has no options; otherwise one load per field. Both
 * checks are constants at load time: the verifier drops the path not taken.
 * Returns the transport header's offset, 0 for a later fragment. */
static __always_inline __u32 parse_ipv4(unsigned char *ip, struct flow_key *key, __u32 *l3_len)
{
	key->family = ZT_FAMILY_IPV4;
	if (wide_header_loads && bpf_core_enum_value_exists(enum bpf_features, BPF_FEAT_RDONLY_CAST_TO_VOID)) {
		const __u64 *w = bpf_rdonly_cast(ip, 0);
		__u64 w0 = w[0], w1 = w[1], w2 = w[2]; /* little-endian words of the header */
		*l3_len = (w0 & 0x0f) * 4;
		key->protocol = w1 >> 8;
		*(__u32 *)key->saddr = w1 >> 32;
		*(__u32 *)key->daddr = w2;
		if ((w0 >> 48) & bpf_htons(0x1fff))
			return 0;
		if (*l3_len == 20 && (key->protocol == IPPROTO_TCP || key->protocol == IPPROTO_UDP)) {
			key->sport = w2 >> 32;
			key->dport = w2 >> 48;
			return 20;
		}
	} else {
		struct iphdr *h = KERNEL_PTR(struct iphdr, ip);
		*l3_len = h->ihl * 4;
		key->protocol = h->protocol;
		__builtin_memcpy(key->saddr, &h->saddr, 4);
		__builtin_memcpy(key->daddr, &h->daddr, 4);
		if (h->frag_off & bpf_htons(0x1fff))
			return 0; /* a later fragment: no ports */
	}
	if (key->protocol == IPPROTO_TCP || key->protocol == IPPROTO_UDP) {
		struct udphdr *ports = KERNEL_PTR(struct udphdr, ip + *l3_len);
		key->sport = ports->source;
		key->dport = ports->dest;
	}
	return *l3_len;
}

/* Counts one packet leaving through POSTROUTING. `v6` is a constant in each
 * program below, so each family's program holds only its own parsing. */
static __always_inline int count_packet(struct bpf_nf_ctx *ctx, const int v6)
{
	struct sk_buff *skb = ctx->skb;
	unsigned char *head = skb->head;
	unsigned char *ip = head + skb->network_header;
	struct flow_key key = {};
	__u32 l3_len = sizeof(struct ipv6hdr), l4_off;
	__u64 len = skb->len; /* IP length at POSTROUTING; tot_len is 0 for BIG TCP */

	if (!v6) {
		l4_off = parse_ipv4(ip, &key, &l3_len);
	} else {
		struct ipv6hdr *h = KERNEL_PTR(struct ipv6hdr, ip);
		key.family = ZT_FAMILY_IPV6;
		key.protocol = h->nexthdr;
		__builtin_memcpy(key.saddr, &h->saddr, 16);
		__builtin_memcpy(key.daddr, &h->daddr, 16);
		l4_off = ipv6_transport(ip, &key.protocol);
		if (l4_off && (key.protocol == IPPROTO_TCP || key.protocol == IPPROTO_UDP)) {
			struct udphdr *ports = KERNEL_PTR(struct udphdr, ip + l4_off);
			key.sport = ports->source;
			key.dport = ports->dest;
		}
	}

	/* A GSO super-packet becomes gso_segs packets, each with its own headers. */
	struct skb_shared_info *shinfo = KERNEL_PTR(struct skb_shared_info, head + skb->end);
	__u64 packets = 1;
	if (shinfo->gso_size) {
		__u32 hdr_len = l4_off ? l4_off : l3_len;
		if (l4_off && key.protocol == IPPROTO_UDP)
			hdr_len += sizeof(struct udphdr);
		else if (l4_off && key.protocol == IPPROTO_TCP)
			hdr_len += KERNEL_PTR(struct tcphdr, ip + l4_off)->doff * 4;
		packets = shinfo->gso_segs ?: 1;
		len += (packets - 1) * hdr_len;
	} else if (len > (v6 ? IPV6_MIN_MTU : IPV4_SMALL_MTU)) {
		/* Longer than the MTU: fragmented after this hook, each fragment with
		 * its own IP header (IPv6: plus an 8-byte fragment header). */
		const struct net_device *out = ctx->state->out;
		__u32 mtu = out ? out->mtu : 0;
		__u32 frag_hdr = v6 ? sizeof(struct frag_hdr) : 0;
		__u32 chunk = (mtu - l3_len - frag_hdr) & ~7U;
		if (len > mtu && chunk && mtu > l3_len + frag_hdr) {
			__u64 payload = len - l3_len;
			packets = (payload + chunk - 1) / chunk;
			len = payload + packets * (l3_len + frag_hdr);
		}
	}

	count_cached(&key, len, packets);
	return NF_ACCEPT;
}

SEC("netfilter")
int count_ipv4(struct bpf_nf_ctx *ctx)
{
	return count_packet(ctx, 0);
}

SEC("netfilter")
int count_ipv6(struct bpf_nf_ctx *ctx)
{
	return count_packet(ctx, 1);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
