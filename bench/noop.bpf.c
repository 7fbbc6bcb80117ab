// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Benchmark baseline: a netfilter program that does nothing but accept. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct bpf_nf_ctx;

SEC("netfilter")
int noop(struct bpf_nf_ctx *ctx)
{
	return 1; /* NF_ACCEPT */
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
