/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The flow table both programs count into (netfilter.bpf.c, cgroup.bpf.c): a
 * per-CPU direct-mapped flow cache in front of a hash shared by all CPUs, both
 * double-buffered, and the overflow counters. How user space drains them
 * without losing or double-counting a packet: README.md. Only what Linux 5.8
 * offers every program type: map helpers, the CPU number, the clock, atomic
 * adds without a fetched result (BPF_XADD).
 */
#ifndef ZONETAP_FLOW_TABLE_BPF_H
#define ZONETAP_FLOW_TABLE_BPF_H

#define EEXIST 17
#define barrier() asm volatile("" ::: "memory")

/* A flow table: key = flow, value = its counters, added to atomically.
 * Preallocated: an insert never waits for or fails on memory, only on a full table. */
struct flow_table {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536); /* max_flows, set before load */
	__type(key, struct flow_key);
	__type(value, struct flow_counters);
};
struct flow_table flows_a SEC(".maps"), flows_b SEC(".maps");

/* Slot 0 holds the table the program writes; user space swaps it, which waits
 * for running programs (synchronize_rcu), then drains the other one. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 1);
	__type(key, __u32);
	__array(values, struct flow_table);
} active_flows SEC(".maps") = {
	.values = { [0] = &flows_a },
};

/* The flow caches: for every CPU two generations of FLOW_CACHE_SLOTS entries,
 * entry (cpu * 2 + generation) * FLOW_CACHE_SLOTS + slot, all in one array
 * (max_entries set before load to 2 * possible CPUs * FLOW_CACHE_SLOTS; a CPU
 * beyond it counts straight into the table). One array and a CPU index, not a
 * per-CPU array behind a map-in-map: the slot's address needs no dependent
 * loads. hit_path.cache_generation says which generation the programs write;
 * user space flips it and then swaps active_flows, whose wait for running
 * programs (synchronize_rcu) covers both. The program reads cache_generation
 * before active_flows. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE); /* page-aligned values: each entry is one cache line */
	__uint(max_entries, 2 * FLOW_CACHE_SLOTS);
	__type(key, __u32);
	__type(value, struct flow_cache_entry);
} flow_cache SEC(".maps");

/* A global in a data section of its own: an array map of one value
 * (struct hit_path_globals, flows.h) that user space writes like any array
 * element, and that the netfilter programs read with direct loads (no key on
 * the stack, no lookup): the cache generation, and the netfilter settings the
 * hit path tests. Why not those settings in .rodata, where the verifier would
 * drop the code they turn off: the verifier keeps the load of a read-only
 * value even when it knows the value, so the hit path read the .rodata page
 * on every packet, and every page a run touches costs a TLB miss on kernels
 * that flush the TLB at each system call (README.md, Cost). Here they share
 * the generation's cache line. The cgroup object has one program per
 * generation instead, each with its generation a constant, and user space
 * moves its links from one to the other (cgroup.bpf.c): the cache slot's
 * address then waits for no load. */
struct hit_path_globals hit_path SEC(".data.hit_path") = { .wide_header_loads = 1 };

static __always_inline __u32 active_generation(void)
{
	return *(volatile __u32 *)&hit_path.cache_generation & 1;
}

/* Traffic of flows that found the active table full, per CPU, double-buffered
 * like the tables: key generation * 2 + family (0: IPv4, 1: IPv6). User space
 * reads and zeroes the retired generation's counters after a drain. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, struct overflow_counters);
} overflow SEC(".maps");

/* How often an insert found the flow inserted by another CPU since it looked
 * (per CPU, monotonic): shows tests that the race path ran. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} insert_races SEC(".maps");

/* Set before load, for tests only (0 otherwise: the verifier then drops the
 * code): busy-waits this long between a missed lookup and the insert, which
 * widens the window in which another CPU inserts the same flow first. */
const volatile __u32 insert_delay_ns = 0;

static __always_inline void insert_delay(void)
{
	if (!insert_delay_ns)
		return;
	__u64 until = bpf_ktime_get_ns() + insert_delay_ns;
	for (int i = 0; i < 4096 && bpf_ktime_get_ns() < until; i++)
		;
}

/* Adds to the flow table (to the overflow counters of `generation` when it is
 * full). Atomic adds: a softirq can interrupt a process-context run on the same CPU. */
static __always_inline void count(const struct flow_key *key, __u64 bytes, __u64 packets, __u32 generation)
{
	__u32 zero = 0;
	void *table = bpf_map_lookup_elem(&active_flows, &zero);
	if (!table)
		return;
	struct flow_counters *c = bpf_map_lookup_elem(table, key);
	if (!c) {
		struct flow_counters first = { .bytes = bytes, .packets = packets };
		insert_delay();
		long err = bpf_map_update_elem(table, key, &first, BPF_NOEXIST);
		if (!err)
			return;
		/* -EEXIST: another CPU inserted the flow first; add to it. */
		if (err == -EEXIST) {
			c = bpf_map_lookup_elem(table, key);
			__u64 *races = bpf_map_lookup_elem(&insert_races, &zero);
			if (races)
				*races += 1;
		}
	}
	if (c) {
		__sync_fetch_and_add(&c->bytes, bytes);
		__sync_fetch_and_add(&c->packets, packets);
		return;
	}
	__u32 slot = (generation & 1) << 1 | (key->family == ZT_FAMILY_IPV6);
	struct overflow_counters *o = bpf_map_lookup_elem(&overflow, &slot);
	if (o) {
		__sync_fetch_and_add(&o->bytes, bytes);
		__sync_fetch_and_add(&o->packets, packets);
		__sync_fetch_and_add(&o->failed_inserts, 1);
	}
}

/* A flow key as the FLOW_KEY_WORDS 64-bit words of struct flow_key, built and
 * compared in registers: no byte-wise stores followed by word loads on the hot path. */
struct key_words {
	__u64 w[FLOW_KEY_WORDS];
};

/* Cache slot of a flow: multiply-shift over the 5-tuple's words (not the
 * cgroup id, see count_cached), the source address multiplied first so that
 * a flow and its reverse differ. Two multiplies: a collision only costs a
 * write-back, so a cheap mix is enough. */
static __always_inline __u32 cache_slot(const struct key_words *k)
{
	__u64 h = ((k->w[0] ^ k->w[1]) * 0xc2b2ae3d27d4eb4fULL) ^ k->w[2] ^ k->w[3] ^ k->w[4];
	return (h * 0x9e3779b97f4a7c15ULL) >> (64 - FLOW_CACHE_BITS);
}

/* Set before load. 0 leaves the per-CPU flow cache empty: every packet goes to
 * the shared table, so tests can exercise its insert race (see README.md).
 * Read on the miss path only (a cache never filled never hits): the hit path
 * loads nothing more. */
const volatile __u8 use_flow_cache = 1;

/* Counts straight into the flow table, the key copied to the stack for the map calls. */
static __always_inline void count_words(const struct key_words *k, __u64 bytes, __u64 packets, __u32 generation)
{
	struct key_words key = *k;
	count((const struct flow_key *)&key, bytes, packets, generation);
}

/* flow_key.pad[0] of a cache entry (byte 38): set while a run uses the entry. */
#define FLOW_CACHE_BUSY_BYTE 38

/*
 * Counts through this CPU's flow cache (the active generation): packets of a
 * cached flow cost no hash lookup, no atomic and no stack copy of the key; a
 * flow that takes over a slot writes the previous one back. An empty slot
 * never matches: its key is all zero and a flow's family is not. Returns 1
 * when the flow was not in the cache (its first packet on this CPU in this
 * generation, or a bypass). `generation`: the cache generation (and overflow
 * generation) this run writes, read from cache_generation before anything else.
 *
 * The key's last word, the sending socket's cgroup id, is filled from
 * flow_cgroup(ctx) (defined by the program before including this header: a
 * helper call at cgroup egress, 0 at netfilter) only when the flow is not
 * cached: a cached 5-tuple names one socket, and a socket's cgroup does not
 * change. (A new socket reusing a tuple within one interval on one CPU, from
 * another cgroup, would be counted as the first one's.)
 *
 * The busy mark is one byte of the key's pad, stored before the key is read
 * and compared: a run that interrupts this one sees it and bypasses the cache.
 * The key's fifth word is read as its ports (4 bytes) and family and protocol
 * (2 bytes) so that no load overlaps the busy byte's pending store (a load
 * that straddles a narrower pending store waits for it to reach the cache).
 */
static __always_inline int count_cached(struct key_words *k, __u64 bytes, __u64 packets, void *ctx, __u32 generation)
{
	__u32 index = ((bpf_get_smp_processor_id() << 1) + (generation & 1)) * FLOW_CACHE_SLOTS + cache_slot(k);
	struct flow_cache_entry *e = bpf_map_lookup_elem(&flow_cache, &index);
	if (!e || e->key.pad[0]) {
		k->w[5] = flow_cgroup(ctx);
		count_words(k, bytes, packets, generation); /* nested run on this CPU and slot: bypass the cache */
		return 1;
	}
	e->key.pad[0] = 1;
	barrier();
	__u64 *x = (__u64 *)&e->key;
	__u64 ports = *(__u32 *)&e->key.sport, kind = *(__u16 *)&e->key.family; /* word 4 without the busy byte */
	if (!((x[0] ^ k->w[0]) | (x[1] ^ k->w[1]) | (x[2] ^ k->w[2]) | (x[3] ^ k->w[3]) | ((ports | kind << 32) ^ k->w[4]))) {
		e->counters.bytes += bytes;
		e->counters.packets += packets;
		k->w[5] = x[5]; /* the cached flow's cgroup, for the caller */
		barrier();
		e->key.pad[0] = 0;
		return 0;
	}
	k->w[5] = flow_cgroup(ctx);
	if (!use_flow_cache) { /* the slot stays empty (nothing to write back) */
		count_words(k, bytes, packets, generation);
		barrier();
		e->key.pad[0] = 0;
		return 1;
	}
	if (e->counters.packets) {
		struct key_words evicted = { { x[0], x[1], x[2], x[3], ports | kind << 32, x[5] } };
		count((const struct flow_key *)&evicted, e->counters.bytes, e->counters.packets, generation);
	}
	x[0] = k->w[0];
	x[1] = k->w[1];
	x[2] = k->w[2];
	x[3] = k->w[3];
	x[5] = k->w[5];
	e->counters.bytes = bytes;
	e->counters.packets = packets;
	barrier();
	x[4] = k->w[4]; /* pad 0: no longer busy */
	return 1;
}

#endif
