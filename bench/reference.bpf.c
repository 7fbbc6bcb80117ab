// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Benchmark reference: the straightforward algorithm of Polar Signals'
 * kubezonnet, written for this benchmark. IPv4 only; the packet read through
 * a dynptr (as kubezonnet does); one hash map shared by all CPUs, keyed by the
 * 4-tuple: lookup, atomic add on a hit, insert on a miss (racy: two CPUs
 * inserting the same new flow overwrite each other; a full map drops the flow).
 */
#include <linux/bpf.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "reference.bpf.h"
#include "kernel.h"

extern int bpf_dynptr_from_skb(struct __sk_buff *skb, __u64 flags, struct bpf_dynptr *ptr__uninit) __ksym;
extern void *bpf_dynptr_slice(const struct bpf_dynptr *ptr, __u32 offset, void *buffer, __u32 buffer__sz) __ksym;


SEC("netfilter")
int count_reference(struct bpf_nf_ctx *ctx)
{
	struct bpf_dynptr ptr;
	struct iphdr ip_buf;
	struct udphdr ports_buf;

	if (ctx->state->pf != 2 /* NFPROTO_IPV4 */)
		return 1;
	if (bpf_dynptr_from_skb((struct __sk_buff *)ctx->skb, 0, &ptr))
		return 1;
	struct iphdr *ip = bpf_dynptr_slice(&ptr, 0, &ip_buf, sizeof(ip_buf));
	if (!ip)
		return 1;
	struct reference_key key = { .saddr = ip->saddr, .daddr = ip->daddr };
	if (ip->protocol == IPPROTO_TCP || ip->protocol == IPPROTO_UDP) {
		struct udphdr *ports = bpf_dynptr_slice(&ptr, ip->ihl * 4, &ports_buf, sizeof(ports_buf));
		if (ports) {
			key.sport = ports->source;
			key.dport = ports->dest;
		}
	}
	__u64 bytes = bpf_ntohs(ip->tot_len);
	add_reference(&key, bytes);
	return 1;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
