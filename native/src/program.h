// ProgramFile: any eBPF object file with one program, loaded as a netfilter or
// cgroup_skb egress program and attached like the flow tables' programs. For
// the benchmarks' baselines (bench/*.bpf.c) and tests of load errors; zonetap
// itself counts only through FlowTable.
#pragma once
#include <napi.h>

#include <vector>

struct bpf_object;
struct bpf_program;

namespace zonetap {

class ProgramFile : public Napi::ObjectWrap<ProgramFile> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit ProgramFile(const Napi::CallbackInfo& info);
  ~ProgramFile() override;

 private:
  bpf_program* Loaded(Napi::Env env);
  void Load(const Napi::CallbackInfo& info);
  Napi::Value AttachNetfilterHook(const Napi::CallbackInfo& info);
  Napi::Value AttachCgroupHook(const Napi::CallbackInfo& info);
  void Detach(const Napi::CallbackInfo& info);
  Napi::Value Info(const Napi::CallbackInfo& info);
  void Close(const Napi::CallbackInfo& info);
  void Release();

  bpf_object* obj_ = nullptr;
  bpf_program* prog_ = nullptr;
  bool loaded_ = false;
  std::vector<int> links_;
};

}  // namespace zonetap
