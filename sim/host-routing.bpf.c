// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The simulated eBPF host-routing datapath (sim/, node option `datapath:
 * host-routing`): a tc ingress program on a node's pod-facing veths and its
 * uplink that routes IP packets itself, as Cilium's eBPF host routing does: a
 * FIB lookup in the node's namespace, then bpf_redirect_neigh() to the egress
 * device with the next hop. The packet goes from one device's ingress to the
 * other's egress and never enters the node's IP stack, so it crosses none of
 * the node's netfilter hooks. Packets for the node itself, and anything the
 * FIB cannot forward, take the normal path.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define AF_INET 2
#define AF_INET6 10

SEC("tc")
int route_around_netfilter(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
	/* tot_len stays 0: no MTU check (GRO hands the veth packets larger than the MTU, which the egress device segments again). */
	struct bpf_fib_lookup fib = { .ifindex = skb->ingress_ifindex };
	struct bpf_redir_neigh next_hop = {};

	if (skb->protocol == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = data + ETH_HLEN;
		if ((void *)(ip + 1) > end)
			return TC_ACT_OK;
		fib.family = AF_INET;
		fib.tos = ip->tos;
		fib.l4_protocol = ip->protocol;
		fib.ipv4_src = ip->saddr;
		fib.ipv4_dst = ip->daddr;
	} else if (skb->protocol == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = data + ETH_HLEN;
		if ((void *)(ip6 + 1) > end)
			return TC_ACT_OK;
		fib.family = AF_INET6;
		fib.l4_protocol = ip6->nexthdr;
		__builtin_memcpy(fib.ipv6_src, &ip6->saddr, sizeof(fib.ipv6_src));
		__builtin_memcpy(fib.ipv6_dst, &ip6->daddr, sizeof(fib.ipv6_dst));
	} else {
		return TC_ACT_OK;
	}
	long rc = bpf_fib_lookup(skb, &fib, sizeof(fib), 0);
	if (rc != BPF_FIB_LKUP_RET_SUCCESS && rc != BPF_FIB_LKUP_RET_NO_NEIGH)
		return TC_ACT_OK; /* for the node itself, or not routable: the normal path */
	/* The FIB put the next hop (the gateway, or the destination on a link) in ipv4_dst / ipv6_dst. */
	next_hop.nh_family = fib.family;
	if (fib.family == AF_INET)
		next_hop.ipv4_nh = fib.ipv4_dst;
	else
		__builtin_memcpy(next_hop.ipv6_nh, fib.ipv6_dst, sizeof(next_hop.ipv6_nh));
	return bpf_redirect_neigh(fib.ifindex, &next_hop, sizeof(next_hop), 0);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
