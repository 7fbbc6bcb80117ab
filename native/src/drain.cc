#include "drain.h"

#include <errno.h>

#include <string>
#include <vector>

#include <bpf/bpf.h>

#include "errors.h"
#include "flows.h"
#include "records.h"

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
        in_flight_(in_flight), generation_(generation), maps_(maps), batch_(batch), chunk_records_(chunk_records) {
    ++*in_flight_;
  }
  ~DrainWorker() override { --*in_flight_; }

  Napi::Promise Promise() { return deferred_.Promise(); }

  void Execute() override {
    // Reserved before the swap: a drain that cannot hold the table leaves it
    // in the kernel.
    if (int err = records_.Reserve(size_t{maps_.table_entries} + maps_.cache_entries)) return Fail("reserve memory for the drain", err);
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
    records_.SetCached(cached);

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
      if (!records_.Add(keys.data(), values.data(), count)) return Fail("drain flow table", EOVERFLOW);
      if (err == ENOENT) break;
      in_batch = out_batch;
      first = false;
    }
    if (!records_.AddUnmatchedCached()) return Fail("drain flow table", EOVERFLOW);
    records_.GroupByAddressPair(chunk_records_);
  }

  // Each chunk becomes a Buffer over a slice of the drain's one region (no
  // copy), which is freed when JavaScript lets go of the last of them. V8 is
  // told of that memory (it counts only its own heap), so that a large drain
  // brings the next full collection closer: the chunks handed on and the
  // records decoded from them are freed sooner.
  void OnOK() override {
    *generation_ = maps_.next_generation;
    deferred_.Resolve(records_.Buffers(Env()));
  }
  void OnError(const Napi::Error&) override {
    // Swapped but not fully read: the retired table keeps the unread rest, and a
    // later drain reads it when this generation is retired again.
    if (swapped_) *generation_ = maps_.next_generation;
    deferred_.Reject(SyscallError(Env(), op_, err_).Value());
  }

 private:
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
  size_t chunk_records_;
  DrainRecords records_;
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
