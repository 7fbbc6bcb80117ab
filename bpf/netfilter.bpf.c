// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The netfilter receiver's flow counter: netfilter programs on
 * NF_INET_POST_ROUTING, one per family (count_ipv4, count_ipv6), that add each
 * packet's wire bytes and packets to its flow (flow_table.bpf.h). They never
 * change traffic. Linux >= 6.4 (netfilter programs and links). README.md: the
 * wire accounting, the flow cache and table, and why a drain neither loses nor
 * double-counts a packet.
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

/* The flow key's last word: 0, no cgroup (netfilter also sees packets without a socket). */
static __always_inline __u64 flow_cgroup(void *ctx)
{
	return 0;
}

#include "flow_table.bpf.h"
#include "socket_sources.bpf.h"
#include "wire.bpf.h"

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

/* Whether headers are read with 8-byte loads of untyped memory: needs a kernel
 * that casts to untyped memory (BPF_FEAT_RDONLY_CAST_TO_VOID, Linux 6.18; a
 * constant at load time: on older kernels the verifier drops the wide path),
 * and hit_path.wide_header_loads, set before load (0 forces per-field reads,
 * so tests cover that path; read on the hit path, so it lives beside the cache
 * generation, not in .rodata: flow_table.bpf.h). */
static __always_inline int wide_loads(void)
{
	return bpf_core_enum_value_exists(enum bpf_features, BPF_FEAT_RDONLY_CAST_TO_VOID) &&
	       *(volatile __u8 *)&hit_path.wide_header_loads;
}

/* The last word of a flow key: ports (as in memory: network order), family, protocol. */
static __always_inline __u64 key_tail(__u32 ports, __u8 family, __u8 protocol)
{
	return ports | (__u64)family << 32 | (__u64)protocol << 40;
}

/* Source and destination port at `l4` as one little-endian word, as struct flow_key holds them. */
static __always_inline __u32 read_ports(unsigned char *l4, int wide)
{
	if (wide)
		return *(const __u32 *)bpf_rdonly_cast(l4, 0);
	struct udphdr *ports = KERNEL_PTR(struct udphdr, l4);
	return ports->source | (__u32)ports->dest << 16;
}

/* IPv4 addresses, protocol and ports into the key's words. With wide loads,
 * three 8-byte loads read a header without options and its ports; otherwise
 * one load per field. Returns the transport header's offset, 0 for a later
 * fragment. */
static __always_inline __u32 parse_ipv4(unsigned char *ip, struct key_words *k, __u8 *protocol, __u32 *l3_len, int wide)
{
	__u16 frag_off;
	k->w[1] = 0; /* IPv4 addresses fill the first 4 bytes of their 16 */
	k->w[3] = 0;
	if (wide) {
		const __u64 *w = bpf_rdonly_cast(ip, 0);
		__u64 w0 = w[0], w1 = w[1], w2 = w[2]; /* little-endian words of the header */
		*l3_len = (w0 & 0x0f) * 4;
		*protocol = w1 >> 8;
		k->w[0] = w1 >> 32;
		k->w[2] = (__u32)w2;
		frag_off = w0 >> 48;
		if (*l3_len == 20 && !(frag_off & bpf_htons(0x1fff)) && (*protocol == IPPROTO_TCP || *protocol == IPPROTO_UDP)) {
			k->w[4] = key_tail(w2 >> 32, ZT_FAMILY_IPV4, *protocol);
			return 20;
		}
	} else {
		struct iphdr *h = KERNEL_PTR(struct iphdr, ip);
		*l3_len = h->ihl * 4;
		*protocol = h->protocol;
		k->w[0] = h->saddr;
		k->w[2] = h->daddr;
		frag_off = h->frag_off;
	}
	k->w[4] = key_tail(0, ZT_FAMILY_IPV4, *protocol);
	if (frag_off & bpf_htons(0x1fff))
		return 0; /* a later fragment: no ports */
	if (*protocol == IPPROTO_TCP || *protocol == IPPROTO_UDP)
		k->w[4] |= read_ports(ip + *l3_len, wide);
	return *l3_len;
}

/* IPv6 addresses, protocol (after extension headers) and ports into the key's
 * words. Returns the transport header's offset, 0 when there is none. */
static __always_inline __u32 parse_ipv6(unsigned char *ip, struct key_words *k, __u8 *protocol, int wide)
{
	if (wide) {
		const __u64 *w = bpf_rdonly_cast(ip, 0);
		*protocol = w[0] >> 48;
		k->w[0] = w[1];
		k->w[1] = w[2];
		k->w[2] = w[3];
		k->w[3] = w[4];
	} else {
		struct ipv6hdr *h = KERNEL_PTR(struct ipv6hdr, ip);
		*protocol = h->nexthdr;
		const __u64 *saddr = (const __u64 *)&h->saddr, *daddr = (const __u64 *)&h->daddr;
		k->w[0] = saddr[0];
		k->w[1] = saddr[1];
		k->w[2] = daddr[0];
		k->w[3] = daddr[1];
	}
	__u32 l4_off = ipv6_transport(ip, protocol);
	__u32 ports = 0;
	if (l4_off && (*protocol == IPPROTO_TCP || *protocol == IPPROTO_UDP))
		ports = read_ports(ip + l4_off, wide);
	k->w[4] = key_tail(ports, ZT_FAMILY_IPV6, *protocol);
	return l4_off;
}

/* hit_path.skip_socket_sources, set before load when a cgroup receiver runs
 * in the same process (socket_sources.bpf.h): this program skips what that
 * receiver counts. Read on every packet, so beside the cache generation, not
 * in .rodata (flow_table.bpf.h). */
static __always_inline int skip_socket_sources(void)
{
	return *(volatile __u8 *)&hit_path.skip_socket_sources;
}

/* The cgroup receiver's cgroup (its id); 0: none. Read only when skipping. */
const volatile __u64 skip_cgroup_id = 0;

#define TCP_TIME_WAIT 6
#define TCP_NEW_SYN_RECV 12
/* Levels a socket's cgroup may sit below the cgroup receiver's (pod and container below kubepods, and more). */
#define CGROUP_DEPTH_MAX 16

/*
 * Whether a packet sent by a socket of this namespace is the cgroup
 * receiver's: its socket's cgroup is skip_cgroup_id or below it. Such a packet
 * reaches the cgroup program only after this hook (ip_finish_output), so the
 * socket, not socket_sources, decides. Time-wait sockets are never the cgroup
 * program's (it runs for full sockets only); a pending connection's are its
 * listener's.
 */
static __always_inline int counted_at_socket(struct sk_buff *skb)
{
	struct sock *sk = skb->sk;
	if (!sk)
		return 0;
	sk = KERNEL_PTR(struct sock, sk);
	unsigned char state = sk->__sk_common.skc_state;
	if (state == TCP_TIME_WAIT)
		return 0;
	if (state == TCP_NEW_SYN_RECV)
		sk = KERNEL_PTR(struct sock, sk->__sk_common.skc_listener);
	struct cgroup *cgroup = sk->sk_cgrp_data.cgroup;
	for (int i = 0; i < CGROUP_DEPTH_MAX; i++) { /* a bounded loop (Linux 5.3) */
		if (!cgroup)
			return 0;
		cgroup = KERNEL_PTR(struct cgroup, cgroup);
		if (KERNEL_PTR(struct kernfs_node, cgroup->kn)->id == skip_cgroup_id)
			return 1;
		cgroup = (struct cgroup *)cgroup->self.parent;
	}
	return 0;
}

/* Counts one packet leaving through POSTROUTING. `v6` is a constant in each
 * program below, so each family's program holds only its own parsing. */
static __always_inline int count_packet(struct bpf_nf_ctx *ctx, const int v6)
{
	struct sk_buff *skb = ctx->skb;
	unsigned char *head = skb->head;
	unsigned char *ip = head + skb->network_header;
	struct key_words key;
	__u8 protocol;
	__u32 l3_len = sizeof(struct ipv6hdr), l4_off;
	__u64 len = skb->len; /* IP length at POSTROUTING; tot_len is 0 for BIG TCP */

	int wide = wide_loads();
	if (!v6)
		l4_off = parse_ipv4(ip, &key, &protocol, &l3_len, wide);
	else
		l4_off = parse_ipv6(ip, &key, &protocol, wide);

	if (skip_socket_sources()) {
		/* Counted at its socket by the cgroup program: in this namespace (the
		 * socket decides), or in a pod's before the node forwarded it (its source was recorded). */
		struct socket_source source;
		socket_source_of(&key, &source);
		if (counted_at_socket(skb) || bpf_map_lookup_elem(&socket_sources, &source))
			return NF_ACCEPT;
	}

	/* A GSO super-packet becomes gso_segs packets, each with its own headers. */
	struct skb_shared_info *shinfo = KERNEL_PTR(struct skb_shared_info, head + skb->end);
	__u64 packets = 1;
	if (shinfo->gso_size) {
		__u32 hdr_len = l4_off ? l4_off : l3_len;
		if (l4_off && protocol == IPPROTO_UDP)
			hdr_len += sizeof(struct udphdr);
		else if (l4_off && protocol == IPPROTO_TCP)
			hdr_len += KERNEL_PTR(struct tcphdr, ip + l4_off)->doff * 4;
		gso_on_wire(&len, &packets, shinfo->gso_segs, hdr_len);
	} else if (len > (v6 ? IPV6_MIN_MTU : IPV4_SMALL_MTU)) {
		/* Longer than the MTU: fragmented after this hook, each fragment with
		 * its own IP header (IPv6: plus an 8-byte fragment header). */
		const struct net_device *out = ctx->state->out;
		__u32 mtu = out ? out->mtu : 0;
		__u32 frag_hdr = v6 ? sizeof(struct frag_hdr) : 0;
		__u32 chunk = (mtu - l3_len - frag_hdr) & ~7U;
		if (len > mtu && chunk && mtu > l3_len + frag_hdr)
			fragments_on_wire(&len, &packets, l3_len, frag_hdr, chunk);
	}

	count_cached(&key, len, packets, ctx, active_generation());
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
