/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The few kernel types netfilter.bpf.c reads, declared with only the fields it
 * uses. preserve_access_index makes every field access a CO-RE relocation, so
 * libbpf fixes the offsets against the running kernel's BTF at load time: no
 * generated vmlinux.h, and the object runs on any kernel >= 6.4 with BTF.
 */
#ifndef ZONETAP_KERNEL_H
#define ZONETAP_KERNEL_H

#pragma clang attribute push(__attribute__((preserve_access_index)), apply_to = record)

struct net_device {
	unsigned int mtu;
};

struct nf_hook_state {
	__u8 hook;
	__u8 pf;
	struct net_device *in;
	struct net_device *out;
};

struct sock;

struct sk_buff {
	unsigned int len;
	unsigned char *head;
	unsigned int end; /* offset of struct skb_shared_info from head (64-bit kernels) */
	__u16 network_header;
	struct sock *sk;
};

/* A socket's cgroup (v2), and the way up the tree. */
struct kernfs_node {
	__u64 id; /* the cgroup id: the cgroup directory's inode number */
};

struct cgroup_subsys_state {
	struct cgroup_subsys_state *parent;
};

struct cgroup {
	struct cgroup_subsys_state self; /* first member: a css pointer is its cgroup */
	struct kernfs_node *kn;
};

struct sock_cgroup_data {
	struct cgroup *cgroup;
};

/* Shared by every kind of socket; skc_listener is a pending connection's (state TCP_NEW_SYN_RECV) listener. */
struct sock_common {
	unsigned char skc_state;
	struct sock *skc_listener;
};

struct sock {
	struct sock_common __sk_common;
	struct sock_cgroup_data sk_cgrp_data;
};


struct skb_shared_info {
	unsigned short gso_size;
	unsigned short gso_segs;
};

/* The netfilter program's context (include/linux/filter.h). */
struct bpf_nf_ctx {
	const struct nf_hook_state *state;
	struct sk_buff *skb;
};

/* include/net/ipv6.h */
struct frag_hdr {
	__u8 nexthdr;
	__u8 reserved;
	__be16 frag_off;
	__be32 identification;
};

#pragma clang attribute pop

/* Verifier features (include/linux/bpf.h), for a CO-RE existence check. */
enum bpf_features {
	BPF_FEAT_RDONLY_CAST_TO_VOID = 0,
};

#endif
