// The zonetap_native addon: a thin Node-API layer over libbpf 1.1. It registers
// FlowTable (the kernel flow tables of both receivers), ProgramFile (baseline
// programs for benchmarks and tests), a kernel BTF query, and the sizes of the
// shared layout (bpf/flows.h) so that native/decode.ts can check its offsets.
// Every decision and all error wording live in TypeScript (native/*.ts).
#include <napi.h>

#include <string.h>

#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "errors.h"
#include "flow_table.h"
#include "flows.h"
#include "program.h"

namespace zonetap {
namespace {

// vmlinuxEnumValue(enumName, valueName) -> number | undefined: a value of an
// enum in the running kernel's BTF (undefined when the kernel has none).
Napi::Value VmlinuxEnumValue(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsString() || !info[1].IsString()) throw Napi::TypeError::New(env, "expected (enumName, valueName)");
  std::string enum_name = info[0].As<Napi::String>(), value_name = info[1].As<Napi::String>();
  btf* vmlinux = btf__load_vmlinux_btf();
  if (!vmlinux) throw SyscallError(env, "read the kernel's BTF", errno);
  Napi::Value out = env.Undefined();
  int id = btf__find_by_name_kind(vmlinux, enum_name.c_str(), BTF_KIND_ENUM);
  if (id > 0) {
    const btf_type* t = btf__type_by_id(vmlinux, id);
    const struct btf_enum* e = btf_enum(t);
    for (int i = 0; i < btf_vlen(t); i++, e++) {
      if (value_name == btf__name_by_offset(vmlinux, e->name_off)) out = Napi::Number::New(env, e->val);
    }
  }
  btf__free(vmlinux);
  return out;
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  CaptureLibbpfLog();
  exports.Set("FlowTable", FlowTable::Define(env));
  exports.Set("ProgramFile", ProgramFile::Define(env));
  exports.Set("vmlinuxEnumValue", Napi::Function::New(env, VmlinuxEnumValue));
  exports.Set("possibleCpus", Napi::Number::New(env, libbpf_num_possible_cpus()));
  exports.Set("flowKeySize", Napi::Number::New(env, sizeof(flow_key)));
  exports.Set("flowCountersSize", Napi::Number::New(env, sizeof(flow_counters)));
  exports.Set("overflowCountersSize", Napi::Number::New(env, sizeof(overflow_counters)));
  exports.Set("flowCacheEntrySize", Napi::Number::New(env, sizeof(flow_cache_entry)));
  exports.Set("flowCacheSlots", Napi::Number::New(env, FLOW_CACHE_SLOTS));
  return exports;
}

}  // namespace
}  // namespace zonetap

static Napi::Object InitAddon(Napi::Env env, Napi::Object exports) { return zonetap::Init(env, exports); }
NODE_API_MODULE(zonetap_native, InitAddon)
