// FlowTable: one eBPF flow-table object (netfilter or cgroup), reached through
// its `bpftool gen skeleton` header so that every map, program and setting is
// named at compile time. open (configure, load) -> attach -> drain / overflow
// -> close. Arguments are checked (TypeError) and values converted; the
// receivers decide what to do (receivers/kernel, native/flow-table.ts).
#include "flow_table.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <vector>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "flows.h"  // before the skeletons: their .data.hit_path holds struct hit_path_globals
#include "cgroup_flows.skel.h"
#include "drain.h"
#include "errors.h"
#include "links.h"
#include "netfilter_flows.skel.h"
#include "options.h"

namespace zonetap {
namespace {

// Not in Debian 12's UAPI headers (Linux 6.1): netfilter programs came in 6.4.
constexpr int kProgTypeNetfilter = 32;  // BPF_PROG_TYPE_NETFILTER
constexpr int kAttachNetfilter = 45;    // BPF_NETFILTER

template <class Skel>
TableMaps MapsOf(Skel* s) {
  return {s->maps.flows_a,  s->maps.flows_b,  s->maps.active_flows, s->maps.flow_cache, s->maps.data_hit_path,
          s->maps.overflow, s->maps.insert_races, s->maps.socket_sources};
}

// Sizes and settings every flow-table object shares, before load.
template <class Skel>
int ConfigureCommon(Skel* s, const OpenOptions& o, std::string& op) {
  s->rodata->use_flow_cache = o.flow_cache;
  s->rodata->insert_delay_ns = o.insert_delay_ns;
  TableMaps m = MapsOf(s);
  op = "size the flow tables";
  // (The outer map's inner template keeps its compiled size: the kernel does
  // not compare max_entries of hash inner maps, and libbpf 1.1 cannot resize it.)
  for (bpf_map* map : {m.flows_a, m.flows_b}) {
    if (int rc = bpf_map__set_max_entries(map, o.max_flows)) return rc;
  }
  // Room for two generations of every possible CPU's cache (a CPU beyond it
  // counts straight into the table: correct, only slower).
  op = "size the flow cache";
  int cpus = libbpf_num_possible_cpus();
  if (cpus < 0) return cpus;
  if (int rc = bpf_map__set_max_entries(m.flow_cache, 2u * cpus * FLOW_CACHE_SLOTS)) return rc;
  op = "size the socket sources";
  if (int rc = bpf_map__set_max_entries(m.socket_sources, o.socket_sources_entries)) return rc;
  if (o.share_socket_sources_fd >= 0) {
    op = "share the socket sources";
    if (int rc = bpf_map__reuse_fd(m.socket_sources, o.share_socket_sources_fd)) return rc;
  }
  return 0;
}

template <class Skel>
void Destroy(void* skel) {
  Skel::destroy(static_cast<Skel*>(skel));
}

// Opens and configures the netfilter object (not loaded yet).
int OpenNetfilter(const OpenOptions& o, Object& out, std::string& op) {
  op = "open the netfilter eBPF object";
  netfilter_flows* s = netfilter_flows::open();
  if (!s) return -errno;
  out = {s->obj, MapsOf(s), {{"count_ipv4", s->progs.count_ipv4}, {"count_ipv6", s->progs.count_ipv6}}, Destroy<netfilter_flows>, s};
  // In .data.hit_path, not .rodata: the programs read them on every packet (bpf/flow_table.bpf.h).
  s->data_hit_path->hit_path.wide_header_loads = o.wide_header_loads;
  s->data_hit_path->hit_path.skip_socket_sources = o.socket_sources == SocketSources::kSkip;
  s->rodata->skip_cgroup_id = o.skip_cgroup_id;
  for (auto& [name, prog] : out.programs) {
    bpf_program__set_type(prog, static_cast<bpf_prog_type>(kProgTypeNetfilter));
    bpf_program__set_expected_attach_type(prog, static_cast<bpf_attach_type>(kAttachNetfilter));
  }
  return ConfigureCommon(s, o, op);
}

// Opens and configures the cgroup object (not loaded yet).
int OpenCgroup(const OpenOptions& o, Object& out, std::string& op) {
  op = "open the cgroup eBPF object";
  cgroup_flows* s = cgroup_flows::open();
  if (!s) return -errno;
  out = {s->obj, MapsOf(s), {{"count_egress", s->progs.count_egress}, {"count_egress_1", s->progs.count_egress_1}}, Destroy<cgroup_flows>, s};
  s->rodata->record_socket_sources = o.socket_sources == SocketSources::kRecord;
  return ConfigureCommon(s, o, op);
}

// The cgroup object's program that writes cache generation `generation` (a constant in each).
const char* CgroupProgram(uint32_t generation) { return generation ? "count_egress_1" : "count_egress"; }

uint32_t Uint(const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (info.Length() <= i || !info[i].IsNumber()) throw Napi::TypeError::New(info.Env(), std::string(what) + " must be a number");
  double v = info[i].As<Napi::Number>().DoubleValue();
  if (v < 0 || v > 4294967295.0 || v != static_cast<uint32_t>(v)) throw Napi::TypeError::New(info.Env(), std::string(what) + " must be an unsigned 32-bit integer");
  return static_cast<uint32_t>(v);
}

std::string String(const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (info.Length() <= i || !info[i].IsString()) throw Napi::TypeError::New(info.Env(), std::string(what) + " must be a string");
  return info[i].As<Napi::String>();
}

}  // namespace

namespace {
// The FlowTable constructor, to tell a FlowTable from other objects.
Napi::FunctionReference constructor;
}  // namespace

Napi::Function FlowTable::Define(Napi::Env env) {
  Napi::Function ctor = DefineClass(env, "FlowTable",
                     {InstanceMethod("attachNetfilter", &FlowTable::AttachNetfilterHook),
                      InstanceMethod("attachCgroup", &FlowTable::AttachCgroupHook),
                      InstanceMethod("detach", &FlowTable::Detach),
                      InstanceMethod("drain", &FlowTable::Drain),
                      InstanceMethod("overflow", &FlowTable::Overflow),
                      InstanceMethod("programs", &FlowTable::Programs),
                      InstanceMethod("mapIds", &FlowTable::MapIds),
                      InstanceMethod("close", &FlowTable::Close)});
  constructor = Napi::Persistent(ctor);
  constructor.SuppressDestruct();
  return ctor;
}

// new FlowTable(kind: 'netfilter' | 'cgroup', options): open, configure, load.
FlowTable::FlowTable(const Napi::CallbackInfo& info) : Napi::ObjectWrap<FlowTable>(info) {
  Napi::Env env = info.Env();
  std::string kind = String(info, 0, "kind");
  if (kind != "netfilter" && kind != "cgroup") throw Napi::TypeError::New(env, "kind must be \"netfilter\" or \"cgroup\"");
  if (info.Length() < 2 || !info[1].IsObject()) throw Napi::TypeError::New(env, "options must be an object");
  OpenOptions o = ParseOpenOptions(info[1].As<Napi::Object>(), [](Napi::Object other) {
    if (!other.InstanceOf(constructor.Value())) throw Napi::TypeError::New(other.Env(), "shareSocketSourcesWith must be a FlowTable");
    return Unwrap(other)->SocketSourcesFd();
  });
  TakeLibbpfLog();
  std::string op;
  int rc = kind == "netfilter" ? OpenNetfilter(o, object_, op) : OpenCgroup(o, object_, op);
  if (rc == 0) {
    op = "load the " + kind + " eBPF object";
    rc = bpf_object__load(object_.obj);
  }
  if (rc != 0) {
    Release();
    throw SyscallError(env, op, rc);
  }
}

FlowTable::~FlowTable() { Release(); }

int FlowTable::SocketSourcesFd() const { return object_.obj ? bpf_map__fd(object_.maps.socket_sources) : -1; }

bpf_program* FlowTable::Program(Napi::Env env, const std::string& name) {
  if (!object_.obj) throw Napi::Error::New(env, "the flow table is closed");
  for (auto& [n, prog] : object_.programs) {
    if (n == name) return prog;
  }
  throw Napi::Error::New(env, "this flow table has no program " + name);
}

bool FlowTable::IsCgroup() const {
  for (auto& [n, prog] : object_.programs) {
    if (n == CgroupProgram(1)) return true;
  }
  return false;
}

// attachNetfilter(family: 4 | 6, priority, netnsPath?) -> link fd
Napi::Value FlowTable::AttachNetfilterHook(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint32_t family = Uint(info, 0, "family");
  if (family != 4 && family != 6) throw Napi::TypeError::New(env, "family must be 4 or 6");
  if (info.Length() <= 1 || !info[1].IsNumber()) throw Napi::TypeError::New(env, "priority must be a number");
  int32_t priority = info[1].As<Napi::Number>().Int32Value();
  std::string netns = info.Length() > 2 && !info[2].IsUndefined() ? String(info, 2, "netns path") : "";
  int prog_fd = bpf_program__fd(Program(env, family == 4 ? "count_ipv4" : "count_ipv6"));
  TakeLibbpfLog();
  std::string op;
  int link = AttachNetfilter(prog_fd, family == 4 ? 2 /* NFPROTO_IPV4 */ : 10 /* NFPROTO_IPV6 */, priority, netns, op);
  if (link < 0) throw SyscallError(env, op, link);
  links_.push_back(link);
  return Napi::Number::New(env, link);
}

// attachCgroup(cgroupPath) -> link fd
Napi::Value FlowTable::AttachCgroupHook(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path = String(info, 0, "cgroup path");
  int prog_fd = bpf_program__fd(Program(env, CgroupProgram(linked_generation_)));
  TakeLibbpfLog();
  std::string op;
  int link = AttachCgroupEgress(prog_fd, path, op);
  if (link < 0) throw SyscallError(env, op, link);
  links_.push_back(link);
  return Napi::Number::New(env, link);
}

// detach(linkFd): the hook is gone when this returns.
void FlowTable::Detach(const Napi::CallbackInfo& info) {
  uint32_t fd = Uint(info, 0, "link fd");
  for (auto it = links_.begin(); it != links_.end(); ++it) {
    if (*it == static_cast<int>(fd)) {
      close(*it);
      links_.erase(it);
      return;
    }
  }
  throw Napi::Error::New(info.Env(), "not a link of this flow table");
}

// drain(batchSize, chunkRecords) -> Promise<Buffer[]>: swaps to the other
// generation and reads the retired one, in chunks of at most chunkRecords records.
Napi::Value FlowTable::Drain(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint32_t batch = Uint(info, 0, "batch size");
  if (batch == 0) throw Napi::TypeError::New(env, "batch size must be positive");
  uint32_t chunk_records = Uint(info, 1, "chunk size");
  if (chunk_records == 0) throw Napi::TypeError::New(env, "chunk size must be positive");
  if (!object_.obj) throw Napi::Error::New(env, "the flow table is closed");
  if (drains_in_flight_) throw Napi::Error::New(env, "a drain is in progress: await it first");
  uint32_t next = 1 - generation_;
  // Cgroup: new runs write the next generation from here on; the swap of
  // active_flows below waits for the runs still in the retired program.
  if (IsCgroup() && linked_generation_ != next) {
    int prog_fd = bpf_program__fd(Program(env, CgroupProgram(next)));
    for (int link : links_) {
      if (bpf_link_update(link, prog_fd, nullptr) != 0) throw SyscallError(env, "move the cgroup links to the next generation's program", errno);
    }
    linked_generation_ = next;
  }
  const TableMaps& m = object_.maps;
  DrainMaps maps = {bpf_map__fd(m.flow_cache), bpf_map__fd(m.hit_path), bpf_map__max_entries(m.flow_cache), next,
                    bpf_map__fd(m.active_flows), bpf_map__fd(next ? m.flows_b : m.flows_a), bpf_map__fd(next ? m.flows_a : m.flows_b),
                    bpf_map__max_entries(next ? m.flows_a : m.flows_b)};
  return QueueDrain(env, info.This().As<Napi::Object>(), &drains_in_flight_, &generation_, maps, batch, chunk_records);
}

// overflow() -> Buffer: the retired generation's overflow counters, IPv4 then
// IPv6, every CPU's struct overflow_counters; then zeroes them.
Napi::Value FlowTable::Overflow(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!object_.obj) throw Napi::Error::New(env, "the flow table is closed");
  if (drains_in_flight_) throw Napi::Error::New(env, "a drain is in progress: await it first");
  int fd = bpf_map__fd(object_.maps.overflow);
  size_t cpus = libbpf_num_possible_cpus();
  std::vector<overflow_counters> values(2 * cpus), zero(cpus);
  uint32_t retired = 1 - generation_;
  for (uint32_t family = 0; family < 2; family++) {
    uint32_t key = retired * 2 + family;
    if (bpf_map_lookup_elem(fd, &key, values.data() + family * cpus) != 0) throw SyscallError(env, "read overflow counters", errno);
  }
  for (uint32_t family = 0; family < 2; family++) {
    uint32_t key = retired * 2 + family;
    if (bpf_map_update_elem(fd, &key, zero.data(), BPF_ANY) != 0) throw SyscallError(env, "reset overflow counters", errno);
  }
  return Napi::Buffer<uint8_t>::Copy(env, reinterpret_cast<uint8_t*>(values.data()), values.size() * sizeof(overflow_counters));
}

// programs() -> [{ name, id, runCnt, runTimeNs }] (counts need kernel.bpf_stats_enabled=1)
Napi::Value FlowTable::Programs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!object_.obj) throw Napi::Error::New(env, "the flow table is closed");
  Napi::Array out = Napi::Array::New(env);
  for (auto& [name, prog] : object_.programs) {
    bpf_prog_info pi = {};
    uint32_t len = sizeof pi;
    if (bpf_obj_get_info_by_fd(bpf_program__fd(prog), &pi, &len) != 0) throw SyscallError(env, "read program info", errno);
    Napi::Object p = Napi::Object::New(env);
    p.Set("name", name);
    p.Set("id", Napi::Number::New(env, pi.id));
    p.Set("runCnt", Napi::BigInt::New(env, static_cast<uint64_t>(pi.run_cnt)));
    p.Set("runTimeNs", Napi::BigInt::New(env, static_cast<uint64_t>(pi.run_time_ns)));
    out.Set(out.Length(), p);
  }
  return out;
}

// mapIds() -> { flows_a: id, ... }: for bpftool in tests and diagnostics.
Napi::Value FlowTable::MapIds(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!object_.obj) throw Napi::Error::New(env, "the flow table is closed");
  Napi::Object out = Napi::Object::New(env);
  const TableMaps& m = object_.maps;
  for (bpf_map* map : {m.flows_a, m.flows_b, m.active_flows, m.flow_cache, m.hit_path, m.overflow, m.insert_races, m.socket_sources}) {
    bpf_map_info mi = {};
    uint32_t len = sizeof mi;
    if (bpf_obj_get_info_by_fd(bpf_map__fd(map), &mi, &len) != 0) throw SyscallError(env, "read map info", errno);
    out.Set(bpf_map__name(map), Napi::Number::New(env, mi.id));
  }
  return out;
}

// close(): closes the links (detaching them), then the programs and maps.
void FlowTable::Close(const Napi::CallbackInfo& info) {
  if (drains_in_flight_) throw Napi::Error::New(info.Env(), "a drain is in progress: await it before close()");
  Release();
}

void FlowTable::Release() {
  for (int fd : links_) close(fd);
  links_.clear();
  if (object_.obj) object_.destroy(object_.skel);
  object_ = {};
}

}  // namespace zonetap
