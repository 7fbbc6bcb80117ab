// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* For bpf/reach/reach.test.ts: a cgroup_skb program that uses what Linux 5.8
 * does not have (the bpf_rdonly_cast kfunc, 6.2) and a context field the table
 * does not list (__sk_buff.hwtstamp). */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

extern void *bpf_rdonly_cast(const void *obj, __u32 btf_id) __ksym;

SEC("cgroup_skb/egress")
int too_new(struct __sk_buff *skb)
{
	struct __sk_buff *copy = skb;
	if (copy->hwtstamp == 1)
		return 0;
	return bpf_rdonly_cast(skb, 0) != 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
