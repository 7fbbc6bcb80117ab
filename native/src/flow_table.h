// FlowTable, the addon's one class for the kernel flow tables (flow_table.cc).
#pragma once
#include <napi.h>

#include <string>
#include <utility>
#include <vector>

struct bpf_map;
struct bpf_object;
struct bpf_program;

namespace zonetap {

// The maps every flow-table object has (bpf/flow_table.bpf.h, socket_sources.bpf.h).
struct TableMaps {
  bpf_map *flows_a, *flows_b, *active_flows, *flow_cache, *hit_path, *overflow, *insert_races, *socket_sources;
};

// An opened skeleton, whichever object it is.
struct Object {
  bpf_object* obj;
  TableMaps maps;
  std::vector<std::pair<std::string, bpf_program*>> programs;
  void (*destroy)(void*);
  void* skel;
};

class FlowTable : public Napi::ObjectWrap<FlowTable> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit FlowTable(const Napi::CallbackInfo& info);
  ~FlowTable() override;

 private:
  int SocketSourcesFd() const;
  bpf_program* Program(Napi::Env env, const std::string& name);
  bool IsCgroup() const;
  Napi::Value AttachNetfilterHook(const Napi::CallbackInfo& info);
  Napi::Value AttachCgroupHook(const Napi::CallbackInfo& info);
  void Detach(const Napi::CallbackInfo& info);
  Napi::Value Drain(const Napi::CallbackInfo& info);
  Napi::Value Overflow(const Napi::CallbackInfo& info);
  Napi::Value Programs(const Napi::CallbackInfo& info);
  Napi::Value MapIds(const Napi::CallbackInfo& info);
  void Close(const Napi::CallbackInfo& info);
  void Release();

  Object object_ = {};
  std::vector<int> links_;
  // The generation (cache generation and table) the programs write: 0 at load.
  uint32_t generation_ = 0;
  // Cgroup object: the generation whose program its links run (one program
  // per generation, bpf/cgroup.bpf.c); a drain moves them before the swap.
  uint32_t linked_generation_ = 0;
  int drains_in_flight_ = 0;
};

}  // namespace zonetap
