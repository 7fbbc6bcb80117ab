// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Benchmark reference at the cgroup receiver's hook: the straightforward
 * algorithm of Polar Signals' kubezonnet (as in reference.bpf.c), written for
 * this benchmark as a cgroup_skb egress program. IPv4 only; the header read
 * with direct packet access (the cheapest read this hook offers); one hash
 * map shared by all CPUs, keyed by the 4-tuple: lookup, atomic add on a hit,
 * insert on a miss (racy; a full map drops the flow).
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "reference.bpf.h"


SEC("cgroup_skb/egress")
int count_reference_egress(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
	struct iphdr *ip = data;

	if (skb->protocol != bpf_htons(ETH_P_IP) || (void *)(ip + 1) > end)
		return 1;
	struct reference_key key = { .saddr = ip->saddr, .daddr = ip->daddr };
	if (ip->protocol == IPPROTO_TCP || ip->protocol == IPPROTO_UDP) {
		struct udphdr *ports = data + ip->ihl * 4;
		if ((void *)(ports + 1) <= end) {
			key.sport = ports->source;
			key.dport = ports->dest;
		}
	}
	__u64 bytes = bpf_ntohs(ip->tot_len);
	add_reference(&key, bytes);
	return 1;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
