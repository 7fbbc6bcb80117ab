// One drain of a flow table, off the main thread (a libuv worker). See
// bpf/README.md for why it neither loses nor double-counts a packet.
#pragma once
#include <napi.h>

#include <stdint.h>

namespace zonetap {

// The maps of one flow table, by fd.
struct DrainMaps {
  int cache, hit_path;  // hit_path: .data.hit_path, the cache generation and the netfilter settings
  uint32_t cache_entries, next_generation;
  int table_outer, table_next, table_retired;
  uint32_t table_entries;  // the most flows a table holds
};

// Queues a drain and returns its promise: resolves to an array of Buffers
// (chunks of at most `chunk_records` records), one record per flow (struct
// flow_key, then u64 bytes and u64 packets, host byte order). `*in_flight` counts drains running so that close() can refuse;
// `*generation` becomes maps.next_generation once the swap happened (on the
// main thread, when the drain settles), whether or not the rest succeeded.
Napi::Promise QueueDrain(Napi::Env env, Napi::Object owner, int* in_flight, uint32_t* generation, DrainMaps maps, uint32_t batch, uint32_t chunk_records);

}  // namespace zonetap
