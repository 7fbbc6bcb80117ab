#include "drain.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>

#include <algorithm>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <bpf/bpf.h>

#include "errors.h"
#include "flows.h"

namespace zonetap {
namespace {

// The program reads the cache generation before active_flows, so: flip
// hit_path.cache_generation to the next cache generation, then point active_flows at
// the next table (that update returns only after running programs finished:
// the kernel's synchronize_rcu for map-in-map updates); now nothing writes the
// retired generation or table. Read and zero the retired generation of every
// CPU's cache, lookup-and-delete the retired table in batches, and add the
// cached flows to the table's.
class DrainWorker : public Napi::AsyncWorker {
 public:
  // `owner` stays referenced (not collected) and counts the drain in flight, so
  // that close() cannot pull the fds from under the worker thread.
  DrainWorker(Napi::Env env, Napi::Object owner, int* in_flight, uint32_t* generation, DrainMaps maps, uint32_t batch,
              uint32_t chunk_records)
      : Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)), owner_(Napi::Persistent(owner)),
        in_flight_(in_flight), generation_(generation), maps_(maps), batch_(batch), chunk_bytes_(size_t{chunk_records} * kRecord) {
    ++*in_flight_;
  }
  ~DrainWorker() override { --*in_flight_; }

  Napi::Promise Promise() { return deferred_.Promise(); }

  void Execute() override {
    uint32_t zero = 0;
    uint32_t next_table = maps_.table_next;
    // The generation shares its value with the netfilter settings (bpf/flows.h): written whole, settings as they are.
    hit_path_globals hit_path;
    if (bpf_map_lookup_elem(maps_.hit_path, &zero, &hit_path) != 0) return Fail("read the flow cache generation", errno);
    hit_path.cache_generation = maps_.next_generation;
    if (bpf_map_update_elem(maps_.hit_path, &zero, &hit_path, BPF_ANY) != 0) return Fail("swap flow caches", errno);
    if (bpf_map_update_elem(maps_.table_outer, &zero, &next_table, BPF_ANY) != 0) return Fail("swap flow tables", errno);
    swapped_ = true;
    std::vector<flow_cache_entry> cached;
    if (!ReadCache(cached)) return;

    std::vector<flow_key> keys(batch_);
    std::vector<flow_counters> values(batch_);
    LIBBPF_OPTS(bpf_map_batch_opts, opts);
    uint64_t in_batch = 0, out_batch = 0;  // a hash map's batch token: the next bucket
    bool first = true;
    for (;;) {
      uint32_t count = batch_;
      int rc = bpf_map_lookup_and_delete_batch(maps_.table_retired, first ? nullptr : &in_batch, &out_batch,
                                               keys.data(), values.data(), &count, &opts);
      int err = rc ? errno : 0;
      if (rc && err != ENOENT) return Fail("drain flow table", err);
      for (uint32_t i = 0; i < count; i++) Append(keys[i], values[i]);
      if (err == ENOENT) break;
      in_batch = out_batch;
      first = false;
    }
    MergeCached(cached);
    GroupByAddressPair();
  }

  // Each chunk becomes a Buffer over the chunk's own memory (no copy), freed
  // when JavaScript lets go of it: a drain of 1M flows never holds its 64 MB
  // twice. V8 is told of that memory (it counts only its own heap), so that
  // a drain of many chunks brings the next full collection closer: the
  // chunks handed on and the records decoded from them are freed sooner.
  void OnOK() override {
    *generation_ = maps_.next_generation;
    Napi::Env env = Env();
    Napi::Array chunks = Napi::Array::New(env, chunks_.size());
    for (size_t i = 0; i < chunks_.size(); i++) {
      auto* owned = new std::vector<uint8_t>(std::move(chunks_[i]));
      Napi::MemoryManagement::AdjustExternalMemory(env, static_cast<int64_t>(owned->capacity()));
      auto free_chunk = [](Napi::Env env, uint8_t*, std::vector<uint8_t>* chunk) {
        Napi::MemoryManagement::AdjustExternalMemory(env, -static_cast<int64_t>(chunk->capacity()));
        delete chunk;
      };
      chunks.Set(i, Napi::Buffer<uint8_t>::NewOrCopy(env, owned->data(), owned->size(), free_chunk, owned));
    }
    chunks_.clear();
    deferred_.Resolve(chunks);
  }
  void OnError(const Napi::Error&) override {
    // Swapped but not fully read: the retired table keeps the unread rest, and a
    // later drain reads it when this generation is retired again.
    if (swapped_) *generation_ = maps_.next_generation;
    deferred_.Reject(SyscallError(Env(), op_, err_).Value());
  }

 private:
  static constexpr size_t kRecord = sizeof(flow_key) + sizeof(flow_counters);

  // The retired generation of every CPU's cache, then zeroes it (one batch
  // syscall each; the read takes the live generation too and skips it).
  bool ReadCache(std::vector<flow_cache_entry>& cached) {
    uint32_t n = maps_.cache_entries, retired = 1 - maps_.next_generation;
    std::vector<uint32_t> keys(n);
    std::vector<flow_cache_entry> all(n);
    LIBBPF_OPTS(bpf_map_batch_opts, opts);
    uint32_t out_batch = 0, count = n;
    int rc = bpf_map_lookup_batch(maps_.cache, nullptr, &out_batch, keys.data(), all.data(), &count, &opts);
    if (rc && errno != ENOENT) return Fail("read flow cache", errno), false;
    if (count != n) return Fail("read flow cache", EIO), false;
    std::vector<uint32_t> retired_keys;
    for (uint32_t i = 0; i < n; i++) {
      if ((keys[i] / FLOW_CACHE_SLOTS) % 2 != retired) continue;
      retired_keys.push_back(keys[i]);
      if (all[i].counters.packets) cached.push_back(all[i]);
    }
    std::vector<flow_cache_entry> empty(retired_keys.size(), flow_cache_entry{});
    count = retired_keys.size();
    if (count && bpf_map_update_batch(maps_.cache, retired_keys.data(), empty.data(), &count, &opts) != 0) return Fail("reset flow cache", errno), false;
    return true;
  }

  // Records go into chunks of chunk_bytes_, each reserved once: no vector of
  // the whole drain that doubles (and is briefly held twice) as it grows.
  void Append(const flow_key& key, const flow_counters& counters) {
    if (chunks_.empty() || chunks_.back().size() + kRecord > chunk_bytes_) {
      chunks_.emplace_back();
      chunks_.back().reserve(chunk_bytes_);
    }
    std::vector<uint8_t>& chunk = chunks_.back();
    const uint8_t* k = reinterpret_cast<const uint8_t*>(&key);
    const uint8_t* v = reinterpret_cast<const uint8_t*>(&counters);
    chunk.insert(chunk.end(), k, k + sizeof(flow_key));
    chunk.insert(chunk.end(), v, v + sizeof(flow_counters));
  }

  static std::string_view KeyBytes(const void* p) { return std::string_view(static_cast<const char*>(p), sizeof(flow_key)); }

  // Sums the cached flows by key (a flow may sit in several CPUs' caches),
  // adds each to its table record, and appends the ones the table lacks.
  void MergeCached(const std::vector<flow_cache_entry>& cached) {
    std::unordered_map<std::string_view, flow_counters> flows;
    for (const auto& e : cached) {
      flow_counters& sum = flows[KeyBytes(&e.key)];
      sum.bytes += e.counters.bytes;
      sum.packets += e.counters.packets;
    }
    if (flows.empty()) return;
    for (auto& chunk : chunks_) {
      for (size_t off = 0; off < chunk.size(); off += kRecord) {
        auto it = flows.find(KeyBytes(chunk.data() + off));
        if (it == flows.end()) continue;
        flow_counters c;
        memcpy(&c, chunk.data() + off + sizeof(flow_key), sizeof c);
        c.bytes += it->second.bytes;
        c.packets += it->second.packets;
        memcpy(chunk.data() + off + sizeof(flow_key), &c, sizeof c);
        flows.erase(it);
      }
    }
    for (const auto& [key, counters] : flows) {
      flow_key k;
      memcpy(&k, key.data(), sizeof k);
      Append(k, counters);
    }
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

  // Regroups the records so that the flows of one address pair share a chunk
  // (a chunk still holds at most chunk_bytes_; a group larger than that spans
  // chunks): each chunk becomes one batch downstream, and the flows of a pair
  // rolled up in one batch (aggregate by pod) give one record, not one per
  // chunk. Each chunk read is freed once its records are moved.
  void GroupByAddressPair() {
    size_t records = 0;
    for (const auto& c : chunks_) records += c.size() / kRecord;
    size_t per_chunk = chunk_bytes_ / kRecord;
    size_t groups = (records + per_chunk - 1) / per_chunk;
    if (groups <= 1) return;
    std::vector<uint32_t> group_of(records);
    std::vector<size_t> left(groups);
    size_t i = 0;
    for (const auto& c : chunks_) {
      for (size_t off = 0; off < c.size(); off += kRecord) {
        uint32_t g = static_cast<uint32_t>(PairHash(c.data() + off) % groups);
        group_of[i++] = g;
        left[g]++;
      }
    }
    std::vector<std::vector<std::vector<uint8_t>>> out(groups);
    i = 0;
    for (auto& c : chunks_) {
      for (size_t off = 0; off < c.size(); off += kRecord) {
        uint32_t g = group_of[i++];
        auto& to = out[g];
        if (to.empty() || to.back().size() + kRecord > chunk_bytes_) {
          to.emplace_back();
          to.back().reserve(std::min(left[g], per_chunk) * kRecord);
        }
        to.back().insert(to.back().end(), c.data() + off, c.data() + off + kRecord);
        left[g]--;
      }
      std::vector<uint8_t>().swap(c);
    }
    chunks_.clear();
    for (auto& group : out)
      for (auto& chunk : group) chunks_.push_back(std::move(chunk));
  }

  void Fail(const char* op, int err) {
    op_ = op;
    err_ = err;
    SetError(op);
  }

  Napi::Promise::Deferred deferred_;
  Napi::ObjectReference owner_;
  int* in_flight_;
  uint32_t* generation_;
  bool swapped_ = false;
  DrainMaps maps_;
  uint32_t batch_;
  size_t chunk_bytes_;
  std::vector<std::vector<uint8_t>> chunks_;
  std::string op_;
  int err_ = 0;
};

}  // namespace

Napi::Promise QueueDrain(Napi::Env env, Napi::Object owner, int* in_flight, uint32_t* generation, DrainMaps maps, uint32_t batch,
                         uint32_t chunk_records) {
  auto* worker = new DrainWorker(env, owner, in_flight, generation, maps, batch, chunk_records);
  worker->Queue();
  return worker->Promise();
}

}  // namespace zonetap
