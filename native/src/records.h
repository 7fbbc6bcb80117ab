// The records of one drain (struct flow_key, then u64 bytes and u64 packets,
// host byte order: 64 bytes a flow), written once into one reserved region and
// handed to JavaScript as Buffers over slices of it. See native/README.md for
// why: on a drain of a million flows, the page faults of fresh memory cost
// more than the copies, and one region with huge pages takes few of them.
#pragma once
#include <napi.h>

#include <stddef.h>
#include <stdint.h>

#include <vector>

#include "flows.h"

namespace zonetap {

class DrainRecords {
 public:
  static constexpr size_t kRecord = sizeof(flow_key) + sizeof(flow_counters);

  DrainRecords() = default;
  DrainRecords(const DrainRecords&) = delete;
  DrainRecords& operator=(const DrainRecords&) = delete;
  ~DrainRecords();  // unmaps the region unless Buffers() handed it over

  // Reserves room for `max_records` (address space only: pages are touched as
  // records are written). 0, or the errno of mmap.
  int Reserve(size_t max_records);

  // The flows of the per-CPU caches: summed by key (a flow may sit in several
  // CPUs' caches), then added to the table's record of the same key as the
  // table's batches arrive (Add), or appended (AddUnmatchedCached).
  void SetCached(const std::vector<flow_cache_entry>& cached);

  // Appends one batch of the table (keys[i] with values[i]). False if the
  // region is full (the kernel returned more flows than the table holds).
  bool Add(const flow_key* keys, const flow_counters* values, size_t count);
  bool AddUnmatchedCached();

  size_t count() const { return count_; }

  // Reorders the records in place so that the flows of one address pair are
  // in one group (and next to each other, mostly), then cuts them into slices of at most `per_chunk` records
  // that never mix two groups: the chunks of the drain.
  void GroupByAddressPair(size_t per_chunk);

  // One Buffer per slice, over the region (no copy); the region is unmapped
  // when the last of them is collected. V8 is told of its size.
  Napi::Array Buffers(Napi::Env env);

 private:
  struct Cached {
    flow_key key;
    flow_counters counters;
    bool matched;
  };
  struct Region;
  struct Slice {
    size_t first, count;
  };

  uint8_t* Record(size_t i) const { return base_ + i * kRecord; }
  void Append(const flow_key& key, const flow_counters& counters);
  Cached* FindCached(const flow_key& key);
  void SortGroup(size_t first, size_t end);

  uint8_t* base_ = nullptr;
  size_t mapped_ = 0, capacity_ = 0, count_ = 0;
  std::vector<Cached> cached_;
  std::vector<int32_t> cached_slots_;  // open addressing: index into cached_, -1 empty
  std::vector<Slice> slices_;
  std::vector<uint8_t> scratch_;  // SortGroup's copy of one group
};

}  // namespace zonetap
