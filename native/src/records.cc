#include "records.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <utility>

namespace zonetap {

// Huge pages: a drain of a million flows (64 MB) takes 32 faults, not 16,384.
// Measured on the 2-CPU VM of the benchmarks, writing 64 MB: 4 KiB pages
// 0.19-0.20 CPU-s whether fresh or freed before; huge pages 0.12 s the first
// time the VM touches that memory, 0.005 s once it was freed and is mapped
// again (a later drain). The region is aligned to one so that the kernel can
// use them from its first byte.
static constexpr size_t kHugePage = size_t{2} << 20;

// Guard pages: the region sits between two reservations of kGuard bytes that
// can be neither read nor written (PROT_NONE), so that a write past either end
// of the records faults at the writer instead of landing in whatever the kernel
// mapped next to the region (the V8 heap or its JIT code, say). Address space
// only: no memory, no page faults, and nothing in the loops that write records.
// A huge page each: the slack of the alignment below holds the one before.
static constexpr size_t kGuard = kHugePage;

// Unmaps a region and its guard pages.
static void Unmap(uint8_t* base, size_t mapped) { munmap(base - kGuard, mapped + 2 * kGuard); }

// What the Buffers share: the region, unmapped with the last of them.
struct DrainRecords::Region {
  uint8_t* base;
  size_t mapped, used;
  size_t refs;  // Buffers not yet collected
};

DrainRecords::~DrainRecords() {
  if (base_) Unmap(base_, mapped_);
}

int DrainRecords::Reserve(size_t max_records) {
  size_t want = std::max<size_t>(max_records, 1) * kRecord;
  size_t mapped = (want + kHugePage - 1) / kHugePage * kHugePage;
  // Address space for the guard before, the region, the guard after, and a
  // huge page of slack to align the region: all PROT_NONE, then the region
  // made writable. MAP_NORESERVE: the pages come as records are written.
  size_t reserved = kGuard + kHugePage + mapped + kGuard;
  void* p = mmap(nullptr, reserved, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) return errno;
  uintptr_t start = reinterpret_cast<uintptr_t>(p), end = start + reserved;
  uintptr_t aligned = (start + kGuard + kHugePage - 1) & ~(kHugePage - 1);
  // Keep [aligned - kGuard, aligned + mapped + kGuard); give back the slack on either side.
  if (aligned - kGuard > start) munmap(p, aligned - kGuard - start);
  if (aligned + mapped + kGuard < end) munmap(reinterpret_cast<void*>(aligned + mapped + kGuard), end - (aligned + mapped + kGuard));
  if (mprotect(reinterpret_cast<void*>(aligned), mapped, PROT_READ | PROT_WRITE) != 0) {
    int err = errno;
    Unmap(reinterpret_cast<uint8_t*>(aligned), mapped);
    return err;
  }
  base_ = reinterpret_cast<uint8_t*>(aligned);
  mapped_ = mapped;
  capacity_ = mapped / kRecord;
  // Refused where transparent huge pages are off ("never"): 4 KiB pages then.
  madvise(base_, mapped_, MADV_HUGEPAGE);
  return 0;
}

static uint64_t KeyHash(const flow_key& key) {
  uint64_t w[FLOW_KEY_WORDS];
  memcpy(w, &key, sizeof w);
  uint64_t h = 0;
  for (uint64_t x : w) h = (h ^ x) * 0x9e3779b97f4a7c15ULL;
  return h ^ (h >> 29);
}

void DrainRecords::SetCached(const std::vector<flow_cache_entry>& cached) {
  cached_.clear();
  cached_slots_.clear();
  if (cached.empty()) return;
  size_t slots = 16;
  while (slots < cached.size() * 2) slots *= 2;
  cached_slots_.assign(slots, -1);
  for (const auto& e : cached) {
    Cached* c = FindCached(e.key);
    if (!c) {
      size_t slot = KeyHash(e.key) & (slots - 1);
      while (cached_slots_[slot] >= 0) slot = (slot + 1) & (slots - 1);
      cached_slots_[slot] = static_cast<int32_t>(cached_.size());
      cached_.push_back(Cached{e.key, {}, false});
      c = &cached_.back();
    }
    c->counters.bytes += e.counters.bytes;
    c->counters.packets += e.counters.packets;
  }
}

DrainRecords::Cached* DrainRecords::FindCached(const flow_key& key) {
  size_t mask = cached_slots_.size() - 1;
  for (size_t slot = KeyHash(key) & mask;; slot = (slot + 1) & mask) {
    int32_t i = cached_slots_[slot];
    if (i < 0) return nullptr;
    if (memcmp(&cached_[i].key, &key, sizeof key) == 0) return &cached_[i];
  }
}

void DrainRecords::Append(const flow_key& key, const flow_counters& counters) {
  uint8_t* r = Record(count_++);
  memcpy(r, &key, sizeof key);
  memcpy(r + sizeof key, &counters, sizeof counters);
}

bool DrainRecords::Add(const flow_key* keys, const flow_counters* values, size_t count) {
  if (count > capacity_ - count_) return false;
  if (cached_.empty()) {
    for (size_t i = 0; i < count; i++) Append(keys[i], values[i]);
    return true;
  }
  for (size_t i = 0; i < count; i++) {
    flow_counters c = values[i];
    if (Cached* hit = FindCached(keys[i])) {
      c.bytes += hit->counters.bytes;
      c.packets += hit->counters.packets;
      hit->matched = true;
    }
    Append(keys[i], c);
  }
  return true;
}

bool DrainRecords::AddUnmatchedCached() {
  for (const Cached& c : cached_) {
    if (c.matched) continue;
    if (count_ == capacity_) return false;
    Append(c.key, c.counters);
  }
  return true;
}

// Which group an address pair falls in: a hash of both addresses (and the family).
static uint64_t PairHash(const uint8_t* key) {
  uint64_t w[4];
  memcpy(w, key, sizeof w);  // saddr, daddr: the first 32 bytes of struct flow_key
  uint64_t h = (w[0] * 0x9e3779b97f4a7c15ULL) ^ (w[1] * 0xc2b2ae3d27d4eb4fULL) ^ (w[2] * 0x165667b19e3779f9ULL) ^
               (w[3] * 0x85ebca77c2b2ae63ULL) ^ key[offsetof(flow_key, family)];
  h ^= h >> 31;
  h *= 0xd6e8feb86659fd93ULL;
  return h ^ (h >> 32);
}

// As many groups as chunks would hold the records, each put in place by an
// in-place counting sort (American flag sort: every record moved at most once
// to its group, in exchange for the one there): no second copy of the drain.
void DrainRecords::GroupByAddressPair(size_t per_chunk) {
  slices_.clear();
  size_t groups = (count_ + per_chunk - 1) / per_chunk;
  std::vector<size_t> start(groups + 1, 0);
  if (groups > 1) {
    std::vector<uint32_t> group_of(count_);
    for (size_t i = 0; i < count_; i++) {
      uint32_t g = static_cast<uint32_t>(PairHash(Record(i)) % groups);
      group_of[i] = g;
      start[g + 1]++;
    }
    for (size_t g = 0; g < groups; g++) start[g + 1] += start[g];
    std::vector<size_t> next(start.begin(), start.end() - 1);
    uint64_t held[kRecord / 8];
    for (uint32_t g = 0; g < groups; g++) {
      for (; next[g] < start[g + 1]; next[g]++) {
        size_t i = next[g];
        // Carry the record at i to its group's first free place, taking the
        // record there in exchange, until the one in hand belongs at i.
        for (uint32_t h = group_of[i]; h != g; h = group_of[i]) {
          size_t j = next[h];
          while (group_of[j] == h) j++;
          next[h] = j + 1;
          memcpy(held, Record(i), kRecord);
          memcpy(Record(i), Record(j), kRecord);
          memcpy(Record(j), held, kRecord);
          std::swap(group_of[i], group_of[j]);
        }
      }
    }
  } else {
    start.back() = count_;
  }
  for (size_t g = 0; g < groups; g++) SortGroup(start[g], start[g + 1]);
  for (size_t g = 0; g < groups; g++) {
    for (size_t first = start[g]; first < start[g + 1]; first += per_chunk)
      slices_.push_back(Slice{first, std::min(per_chunk, start[g + 1] - first)});
  }
}

// Within a group, the flows of one address pair next to each other (as near
// as 1,024 buckets by another part of the pair's hash get): decoding then
// finds most records' ends in the record before (decode.ts). A counting sort
// through a scratch copy of the group, which is small enough to stay in cache.
void DrainRecords::SortGroup(size_t first, size_t end) {
  static constexpr size_t kBuckets = 1024;
  size_t n = end - first;
  if (n < 2) return;
  std::vector<uint16_t> bucket_of(n);
  std::vector<uint32_t> at(kBuckets + 1, 0);
  for (size_t i = 0; i < n; i++) {
    uint16_t b = static_cast<uint16_t>((PairHash(Record(first + i)) >> 40) & (kBuckets - 1));
    bucket_of[i] = b;
    at[b + 1]++;
  }
  for (size_t b = 0; b < kBuckets; b++) at[b + 1] += at[b];
  scratch_.resize(n * kRecord);
  for (size_t i = 0; i < n; i++) memcpy(scratch_.data() + size_t{at[bucket_of[i]]++} * kRecord, Record(first + i), kRecord);
  memcpy(Record(first), scratch_.data(), n * kRecord);
}

Napi::Array DrainRecords::Buffers(Napi::Env env) {
  Napi::Array buffers = Napi::Array::New(env, slices_.size());
  if (slices_.empty()) return buffers;
  auto* region = new Region{base_, mapped_, count_ * kRecord, slices_.size()};
  base_ = nullptr;
  Napi::MemoryManagement::AdjustExternalMemory(env, static_cast<int64_t>(region->used));
  // A chunk collected gives its whole pages back at once (as a chunk of its
  // own memory did): one chunk that lives on, promoted to V8's old space
  // while the others died young, would otherwise hold the whole region until
  // a full collection. The region is unmapped with the last.
  for (size_t i = 0; i < slices_.size(); i++) {
    const Slice& s = slices_[i];
    uint8_t* data = region->base + s.first * kRecord;
    size_t length = s.count * kRecord;
    auto release = [region, length, page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE))](Napi::Env env, uint8_t* data) {
      Napi::MemoryManagement::AdjustExternalMemory(env, -static_cast<int64_t>(length));
      if (--region->refs == 0) {
        Unmap(region->base, region->mapped);
        delete region;
        return;
      }
      // Whole pages only (madvise rounds the length up): the neighbours' records stay.
      uintptr_t from = (reinterpret_cast<uintptr_t>(data) + page - 1) & ~(page - 1);
      uintptr_t to = (reinterpret_cast<uintptr_t>(data) + length) & ~(page - 1);
      if (to > from) madvise(reinterpret_cast<void*>(from), to - from, MADV_DONTNEED);
    };
    buffers.Set(i, Napi::Buffer<uint8_t>::NewOrCopy(env, data, length, release));
  }
  return buffers;
}

}  // namespace zonetap
