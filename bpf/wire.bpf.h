/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Bytes and packets as a NIC puts them on the wire, from what a hook sees
 * before the kernel segments or fragments a packet (README.md, "What is
 * counted"). Shared by both programs; plain arithmetic, any kernel.
 */
#ifndef ZONETAP_WIRE_BPF_H
#define ZONETAP_WIRE_BPF_H

/* A GSO super-packet of `len` bytes becomes `segs` packets, each with its own
 * L3 and L4 headers (`hdr_len` bytes). */
static __always_inline void gso_on_wire(__u64 *len, __u64 *packets, __u32 segs, __u32 hdr_len)
{
	*packets = segs ?: 1;
	*len += (*packets - 1) * hdr_len;
}

/* A datagram of `len` bytes that IP fragments into pieces of `chunk` payload
 * bytes, each with its own IP header (`l3_len`) plus `frag_hdr` (8 for IPv6's
 * fragment header, 0 for IPv4). */
static __always_inline void fragments_on_wire(__u64 *len, __u64 *packets, __u32 l3_len, __u32 frag_hdr, __u32 chunk)
{
	__u64 payload = *len - l3_len;
	*packets = (payload + chunk - 1) / chunk;
	*len = payload + *packets * (l3_len + frag_hdr);
}

#endif
