/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Sources of the packets the cgroup program counted, for a netfilter program
 * in the same zonetap process: with both receivers on one node, a pod's packet
 * is seen at its socket's cgroup egress and again at the node's POSTROUTING
 * after forwarding. The cgroup program records the packet's source (address,
 * port, protocol) before the packet goes on; the netfilter program skips
 * packets whose source is recorded. Both objects use one map (user space
 * reuses its fd); with one receiver alone the map is never touched and its
 * code is dropped by the verifier (the settings below are load-time constants).
 */
#ifndef ZONETAP_SOCKET_SOURCES_BPF_H
#define ZONETAP_SOCKET_SOURCES_BPF_H

/* LRU: the entries of active flows stay (the netfilter program looks each
 * packet's source up, which marks it used); stale ones make room. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 1); /* sized before load when shared */
	__type(key, struct socket_source);
	__type(value, __u8);
} socket_sources SEC(".maps");

/* A flow's source in the map's key layout, from the key's words. */
static __always_inline void socket_source_of(const struct key_words *k, struct socket_source *s)
{
	__u64 *w = (__u64 *)s;
	w[0] = k->w[0];
	w[1] = k->w[1];
	/* sport (network order) in the low 16 bits of word 4, then dport, family, protocol */
	w[2] = (k->w[4] & 0xffff) | ((k->w[4] >> 32) & 0xffff) << 16;
}

#endif
