// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The cgroup receiver's flow counter: a cgroup_skb/egress program, attached to
 * a cgroup v2 directory, that adds every packet its sockets send to its flow,
 * keyed by the sending socket's cgroup id as well as the 5-tuple
 * (flow_table.bpf.h). It sees a pod's packets at its own socket, before NAT and
 * whatever the datapath does next. It never changes traffic.
 *
 * Linux >= 5.8 and no BTF: the packet is read with direct packet access, and
 * only __sk_buff fields and helpers that 5.8 gives cgroup_skb programs are
 * used (bpf/reach checks it at build time). README.md: what is counted.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "flows.h"

/* The sending socket's cgroup id, the flow key's last word: a helper call, made only for flows not in the cache (flow_table.bpf.h). */
static __always_inline __u64 flow_cgroup(void *ctx)
{
	return bpf_skb_cgroup_id(ctx);
}

#include "flow_table.bpf.h"
#include "socket_sources.bpf.h"
#include "wire.bpf.h"

#define PASS 1
#define LOOPBACK_IFINDEX 1 /* lo in every network namespace */
#define IPV6_EXT_MAX 4
#define IPV4_DONT_FRAGMENT 0x4000
#define IPV4_LATER_FRAGMENT 0x1fff
/* Payload per fragment at the smallest MTU each family allows (68, 1280):
 * a smaller linear head is paged data, not a fragment (see fragments()). */
#define IPV4_MIN_CHUNK 48
#define IPV6_MIN_CHUNK 1232
#define IPV6_FRAG_HDR 8

/* Set before load: 1 when a netfilter receiver runs in the same process
 * (socket_sources.bpf.h). */
const volatile __u8 record_socket_sources = 0;

/* The last word of a flow key: ports (as in memory: network order), family, protocol. */
static __always_inline __u64 key_tail(__u32 ports, __u8 family, __u8 protocol)
{
	return ports | (__u64)family << 32 | (__u64)protocol << 40;
}

/* Source and destination port at `l4` as one word, as struct flow_key holds them; 0 if cut short. */
static __always_inline __u32 read_ports(void *l4, void *end)
{
	if (l4 + 4 > end)
		return 0;
	return *(__u32 *)l4;
}

/* IPv4 addresses, protocol and ports into the key's words. Returns the
 * transport header's offset, 0 for a later fragment; -1 for a cut header. */
static __always_inline int parse_ipv4(void *ip, void *end, struct key_words *k, __u8 *protocol, __u32 *l3_len, int *dont_fragment)
{
	struct iphdr *h = ip;
	if ((void *)(h + 1) > end)
		return -1;
	*l3_len = h->ihl * 4;
	*protocol = h->protocol;
	*dont_fragment = !!(h->frag_off & bpf_htons(IPV4_DONT_FRAGMENT));
	k->w[0] = h->saddr;
	k->w[1] = 0;
	k->w[2] = h->daddr;
	k->w[3] = 0;
	k->w[4] = key_tail(0, ZT_FAMILY_IPV4, *protocol);
	if (h->frag_off & bpf_htons(IPV4_LATER_FRAGMENT))
		return 0;
	if (*protocol == IPPROTO_TCP || *protocol == IPPROTO_UDP)
		k->w[4] |= read_ports(ip + *l3_len, end);
	return *l3_len;
}

/* The first 8 bytes of an IPv6 extension header (none is shorter); for a
 * fragment header, frag_off holds the offset. */
struct ipv6_ext {
	__u8 nexthdr;
	__u8 hdrlen;
	__be16 frag_off;
	__u32 rest;
};

/* Walks IPv6 extension headers to the transport header; returns its offset
 * from the IPv6 header, or 0 when it gave up (protocol says where it stopped). */
static __always_inline __u32 ipv6_transport(void *ip, void *end, __u8 *protocol)
{
	__u32 off = sizeof(struct ipv6hdr);
#pragma unroll
	for (int i = 0; i < IPV6_EXT_MAX; i++) {
		struct ipv6_ext *h = ip + off;
		if ((void *)(h + 1) > end)
			return 0;
		switch (*protocol) {
		case IPPROTO_HOPOPTS:
		case IPPROTO_ROUTING:
		case IPPROTO_DSTOPTS:
			*protocol = h->nexthdr;
			off += (h->hdrlen + 1) * 8;
			break;
		case IPPROTO_AH:
			*protocol = h->nexthdr;
			off += (h->hdrlen + 2) * 4;
			break;
		case IPPROTO_FRAGMENT:
			*protocol = h->nexthdr;
			if (h->frag_off & bpf_htons(0xfff8))
				return 0; /* not the first fragment: no ports */
			off += IPV6_FRAG_HDR;
			break;
		default:
			return off;
		}
	}
	return 0;
}

/* IPv6 addresses, protocol (after extension headers) and ports into the key's
 * words. Returns the transport header's offset, 0 when there is none; -1 for a cut header. */
static __always_inline int parse_ipv6(void *ip, void *end, struct key_words *k, __u8 *protocol)
{
	struct ipv6hdr *h = ip;
	if ((void *)(h + 1) > end)
		return -1;
	*protocol = h->nexthdr;
	const __u64 *saddr = (const __u64 *)&h->saddr, *daddr = (const __u64 *)&h->daddr;
	k->w[0] = saddr[0];
	k->w[1] = saddr[1];
	k->w[2] = daddr[0];
	k->w[3] = daddr[1];
	__u32 l4_off = ipv6_transport(ip, end, protocol);
	__u32 ports = 0;
	if (l4_off && (*protocol == IPPROTO_TCP || *protocol == IPPROTO_UDP))
		ports = read_ports(ip + (l4_off & 0xffff), end);
	k->w[4] = key_tail(ports, ZT_FAMILY_IPV6, *protocol);
	return l4_off;
}

/*
 * A datagram longer than its route's MTU leaves this hook whole and is
 * fragmented after it. The socket layer (ip_append_data, ip6_append_data)
 * built it as one linear buffer per fragment, so the linear head seen here is
 * the first fragment: its payload is the fragment size the kernel will use,
 * path MTU included. A head that is not a fragment (paged data: zero-copy,
 * splice) is shorter than any real fragment or, for IPv4, carries DF (the
 * kernel sets DF only on datagrams it does not fragment).
 */
static __always_inline void fragments(__u64 *len, __u64 *packets, __u32 head, __u32 l3_len, int v6, int dont_fragment)
{
	if (head >= *len || head <= l3_len)
		return;
	__u32 chunk = head - l3_len;
	if (chunk & 7)
		return;
	if (v6 ? chunk < IPV6_MIN_CHUNK : (chunk < IPV4_MIN_CHUNK || dont_fragment))
		return;
	fragments_on_wire(len, packets, l3_len, v6 ? IPV6_FRAG_HDR : 0, chunk);
}

/* Counts one packet into cache generation `generation` (a constant in each program below). */
static __always_inline int count_packet(struct __sk_buff *skb, __u32 generation)
{
	if (skb->ifindex == LOOPBACK_IFINDEX)
		return PASS; /* never leaves the host: costs nothing */
	void *ip = (void *)(long)skb->data; /* the IP header at this hook */
	void *end = (void *)(long)skb->data_end;
	struct key_words key;
	__u8 protocol;
	__u32 l3_len = sizeof(struct ipv6hdr);
	int l4_off, dont_fragment = 0, v6;
	__u64 len = skb->len;

	if (skb->protocol == bpf_htons(ETH_P_IP)) {
		v6 = 0;
		l4_off = parse_ipv4(ip, end, &key, &protocol, &l3_len, &dont_fragment);
	} else if (skb->protocol == bpf_htons(ETH_P_IPV6)) {
		v6 = 1;
		l4_off = parse_ipv6(ip, end, &key, &protocol);
	} else {
		return PASS;
	}
	if (l4_off < 0)
		return PASS;

	__u64 packets = 1;
	__u32 gso_size = skb->gso_size;
	if (gso_size) {
		/* A GSO super-packet becomes gso_segs packets, each with its own headers. */
		__u32 hdr_len = l4_off ? l4_off : l3_len;
		if (l4_off && protocol == IPPROTO_UDP) {
			hdr_len += sizeof(struct udphdr);
		} else if (l4_off && protocol == IPPROTO_TCP) {
			struct tcphdr *tcp = ip + (l4_off & 0xffff);
			if ((void *)(tcp + 1) <= end)
				hdr_len += tcp->doff * 4;
		}
		gso_on_wire(&len, &packets, skb->gso_segs, hdr_len);
	} else {
		fragments(&len, &packets, (__u32)(end - ip), l3_len, v6, dont_fragment);
	}

	if (count_cached(&key, len, packets, skb, generation) && record_socket_sources) {
		struct socket_source source;
		__u8 seen = 1;
		socket_source_of(&key, &source);
		bpf_map_update_elem(&socket_sources, &source, &seen, BPF_ANY);
	}
	return PASS;
}

/*
 * One program per cache generation, the generation a constant: the cache
 * slot's address then waits for no load (a global read first cost about 2 ns
 * a packet, bench/cgroup.bench.ts). User space attaches the program of the
 * generation it makes active, and at each drain moves every link to the
 * other program (BPF_LINK_UPDATE, Linux 5.7) before it swaps active_flows,
 * whose wait for running programs (synchronize_rcu) then also covers every
 * run of the retired program: the same order as cache_generation's (README.md).
 */
SEC("cgroup_skb/egress")
int count_egress(struct __sk_buff *skb)
{
	return count_packet(skb, 0);
}

SEC("cgroup_skb/egress")
int count_egress_1(struct __sk_buff *skb)
{
	return count_packet(skb, 1);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
