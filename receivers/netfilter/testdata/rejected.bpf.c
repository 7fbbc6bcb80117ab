// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* A netfilter program the verifier must reject (reads past its context), for the error-message test. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct bpf_nf_ctx;

SEC("netfilter")
int rejected(struct bpf_nf_ctx *ctx)
{
	return *(volatile long *)((char *)ctx + 100);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
