// Thin Node-API addon over libbpf 1.1 and the bpf(2) syscall: open, configure,
// load, attach netfilter links (optionally inside a network namespace), swap and
// drain the flow tables, read counters and program stats, close.
// It only checks arguments, makes syscalls and converts values: error wording,
// decoding and every decision live in TypeScript (native/index.ts).
#include <napi.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdarg.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "flows.h"

namespace {

// Not in Debian 12's UAPI headers (Linux 6.1): netfilter programs and links came in 6.4.
constexpr int kProgTypeNetfilter = 32;  // BPF_PROG_TYPE_NETFILTER
constexpr int kAttachNetfilter = 45;    // BPF_NETFILTER
constexpr int kNfInetPostRouting = 4;   // NF_INET_POST_ROUTING
constexpr size_t kLogKeep = 16384;      // keep the tail of libbpf's output (verifier log)

// libbpf's messages (warnings and the verifier log), kept so errors can carry them.
std::mutex log_mutex;
std::string libbpf_log;

int CaptureLibbpfPrint(enum libbpf_print_level level, const char* fmt, va_list args) {
  if (level == LIBBPF_DEBUG) return 0;
  char line[4096];
  int n = vsnprintf(line, sizeof line, fmt, args);
  std::lock_guard<std::mutex> lock(log_mutex);
  libbpf_log.append(line, n < 0 ? 0 : std::min<size_t>(n, sizeof line - 1));
  if (libbpf_log.size() > 2 * kLogKeep) libbpf_log.erase(0, libbpf_log.size() - kLogKeep);
  return n;
}

std::string TakeLog() {
  std::lock_guard<std::mutex> lock(log_mutex);
  std::string out = libbpf_log.size() > kLogKeep ? libbpf_log.substr(libbpf_log.size() - kLogKeep) : libbpf_log;
  libbpf_log.clear();
  return out;
}

const char* ErrnoName(int err) {
  switch (err) {
    case EPERM: return "EPERM";
    case EACCES: return "EACCES";
    case ENOENT: return "ENOENT";
    case EINVAL: return "EINVAL";
    case E2BIG: return "E2BIG";
    case ENOMEM: return "ENOMEM";
    case EEXIST: return "EEXIST";
    case EBUSY: return "EBUSY";
    case ENOTSUP: return "ENOTSUP";
    case ESRCH: return "ESRCH";
    case EBADF: return "EBADF";
    default: return "E?";
  }
}

// A JavaScript Error with the failed operation, errno and libbpf's messages attached.
Napi::Error SyscallError(Napi::Env env, const std::string& op, int err) {
  if (err < 0) err = -err;
  Napi::Error e = Napi::Error::New(env, op + ": " + strerror(err));
  e.Set("op", op);
  e.Set("errno", Napi::Number::New(env, err));
  e.Set("code", ErrnoName(err));
  e.Set("libbpfLog", TakeLog());
  return e;
}

// union bpf_attr.link_create as of Linux 6.4, for BPF_NETFILTER links.
struct NetfilterLinkAttr {
  uint32_t prog_fd;
  uint32_t target_fd;
  uint32_t attach_type;
  uint32_t flags;
  uint32_t pf;
  uint32_t hooknum;
  int32_t priority;
  uint32_t nf_flags;
};

int CreateNetfilterLink(int prog_fd, int pf, int priority) {
  NetfilterLinkAttr attr = {};
  attr.prog_fd = prog_fd;
  attr.attach_type = kAttachNetfilter;
  attr.pf = pf;
  attr.hooknum = kNfInetPostRouting;
  attr.priority = priority;
  int fd = syscall(__NR_bpf, BPF_LINK_CREATE, &attr, sizeof attr);
  return fd < 0 ? -errno : fd;
}

// One drain, off the main thread. The program reads cache_generation before
// active_flows, so: flip cache_generation to the next cache generation, then
// point active_flows at the next table (that update returns only after running
// programs finished: the kernel's synchronize_rcu for map-in-map updates); now
// nothing writes the retired generation or table. Read and zero the retired
// generation of every CPU's cache, lookup-and-delete the retired table in
// batches, and add the cached flows to the table's. Output: one record per
// flow, struct flow_key then u64 bytes and u64 packets (host byte order).
struct DrainMaps {
  int cache, cache_generation;
  uint32_t cache_entries, next_generation;
  int table_outer, table_next, table_retired;
};

class DrainWorker : public Napi::AsyncWorker {
 public:
  // `owner` stays referenced (not collected) and counts the drain in flight, so
  // that close() cannot pull the fds from under the worker thread.
  DrainWorker(Napi::Env env, Napi::Object owner, int* in_flight, DrainMaps maps, uint32_t batch)
      : Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)), owner_(Napi::Persistent(owner)),
        in_flight_(in_flight), maps_(maps), batch_(batch) {
    ++*in_flight_;
  }
  ~DrainWorker() override { --*in_flight_; }

  Napi::Promise Promise() { return deferred_.Promise(); }

  void Execute() override {
    uint32_t zero = 0;
    uint32_t next_generation = maps_.next_generation, next_table = maps_.table_next;
    if (bpf_map_update_elem(maps_.cache_generation, &zero, &next_generation, BPF_ANY) != 0) return Fail("swap flow caches", errno);
    if (bpf_map_update_elem(maps_.table_outer, &zero, &next_table, BPF_ANY) != 0) return Fail("swap flow tables", errno);
    std::vector<flow_cache_entry> cached;
    if (!ReadCache(cached)) return;

    std::vector<flow_key> keys(batch_);
    std::vector<flow_counters> values(batch_);
    LIBBPF_OPTS(bpf_map_batch_opts, opts);
    uint64_t in_batch = 0, out_batch = 0;
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
  }

  void OnOK() override {
    deferred_.Resolve(Napi::Buffer<uint8_t>::Copy(Env(), records_.data(), records_.size()));
  }
  void OnError(const Napi::Error&) override { deferred_.Reject(SyscallError(Env(), op_, err_).Value()); }

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

  void Append(const flow_key& key, const flow_counters& counters) {
    const uint8_t* k = reinterpret_cast<const uint8_t*>(&key);
    const uint8_t* v = reinterpret_cast<const uint8_t*>(&counters);
    records_.insert(records_.end(), k, k + sizeof(flow_key));
    records_.insert(records_.end(), v, v + sizeof(flow_counters));
  }

  static std::string_view KeyBytes(const void* p) { return std::string_view(static_cast<const char*>(p), sizeof(flow_key)); }

  // Sums the cached flows by key (a flow may sit in several CPUs' caches),
  // adds each to its table record, and appends the ones the table lacks.
  void MergeCached(const std::vector<flow_cache_entry>& cached) {
    std::unordered_map<std::string_view, flow_counters> flows;
    for (const auto& e : cached) {
      if (e.counters.packets == 0) continue;
      flow_counters& sum = flows[KeyBytes(&e.key)];
      sum.bytes += e.counters.bytes;
      sum.packets += e.counters.packets;
    }
    if (flows.empty()) return;
    for (size_t off = 0; off < records_.size(); off += kRecord) {
      auto it = flows.find(KeyBytes(records_.data() + off));
      if (it == flows.end()) continue;
      flow_counters c;
      memcpy(&c, records_.data() + off + sizeof(flow_key), sizeof c);
      c.bytes += it->second.bytes;
      c.packets += it->second.packets;
      memcpy(records_.data() + off + sizeof(flow_key), &c, sizeof c);
      flows.erase(it);
    }
    for (const auto& [key, counters] : flows) {
      flow_key k;
      memcpy(&k, key.data(), sizeof k);
      Append(k, counters);
    }
  }

  void Fail(const char* op, int err) {
    op_ = op;
    err_ = err;
    SetError(op);
  }
  Napi::Promise::Deferred deferred_;
  Napi::ObjectReference owner_;
  int* in_flight_;
  DrainMaps maps_;
  uint32_t batch_;
  std::vector<uint8_t> records_;
  std::string op_;
  int err_ = 0;
};

class BpfObject : public Napi::ObjectWrap<BpfObject> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "BpfObject",
                       {InstanceMethod("setMaxEntries", &BpfObject::SetMaxEntries),
                        InstanceMethod("setConst", &BpfObject::SetConst),
                        InstanceMethod("load", &BpfObject::Load),
                        InstanceMethod("attachNetfilter", &BpfObject::AttachNetfilter),
                        InstanceMethod("detach", &BpfObject::Detach),
                        InstanceMethod("programInfo", &BpfObject::ProgramInfo),
                        InstanceMethod("mapInfo", &BpfObject::MapInfo),
                        InstanceMethod("readPerCpu", &BpfObject::ReadPerCpu),
                        InstanceMethod("swapAndDrain", &BpfObject::SwapAndDrain),
                        InstanceMethod("close", &BpfObject::Close)});
  }

  // new BpfObject(path)
  BpfObject(const Napi::CallbackInfo& info) : Napi::ObjectWrap<BpfObject>(info) {
    if (info.Length() < 1 || !info[0].IsString()) throw Napi::TypeError::New(info.Env(), "path must be a string");
    std::string path = info[0].As<Napi::String>();
    TakeLog();
    obj_ = bpf_object__open_file(path.c_str(), nullptr);
    if (!obj_) {
      int err = errno;
      obj_ = nullptr;
      throw SyscallError(info.Env(), "open " + path, err);
    }
  }

  ~BpfObject() { Release(); }

 private:
  bpf_object* Object(Napi::Env env) {
    if (!obj_) throw Napi::Error::New(env, "the BPF object is closed");
    return obj_;
  }
  bpf_map* Map(const Napi::CallbackInfo& info, size_t i) {
    if (info.Length() <= i || !info[i].IsString()) throw Napi::TypeError::New(info.Env(), "map name must be a string");
    std::string name = info[i].As<Napi::String>();
    bpf_map* map = bpf_object__find_map_by_name(Object(info.Env()), name.c_str());
    if (!map) throw Napi::Error::New(info.Env(), "no map named \"" + name + "\" in the BPF object");
    return map;
  }
  bpf_program* Program(const Napi::CallbackInfo& info, size_t i) {
    if (info.Length() <= i || !info[i].IsString()) throw Napi::TypeError::New(info.Env(), "program name must be a string");
    std::string name = info[i].As<Napi::String>();
    bpf_program* prog = bpf_object__find_program_by_name(Object(info.Env()), name.c_str());
    if (!prog) throw Napi::Error::New(info.Env(), "no program named \"" + name + "\" in the BPF object");
    return prog;
  }
  static uint32_t Uint(const Napi::CallbackInfo& info, size_t i, const char* what) {
    if (info.Length() <= i || !info[i].IsNumber()) throw Napi::TypeError::New(info.Env(), std::string(what) + " must be a number");
    double v = info[i].As<Napi::Number>().DoubleValue();
    if (v < 0 || v > 4294967295.0 || v != static_cast<uint32_t>(v)) throw Napi::TypeError::New(info.Env(), std::string(what) + " must be an unsigned 32-bit integer");
    return static_cast<uint32_t>(v);
  }

  // setMaxEntries(mapName, n): before load. Also sets an outer map's inner template.
  void SetMaxEntries(const Napi::CallbackInfo& info) {
    bpf_map* map = Map(info, 0);
    uint32_t n = Uint(info, 1, "max entries");
    int rc = bpf_map__set_max_entries(map, n);
    if (rc) throw SyscallError(info.Env(), "set max entries of " + std::string(bpf_map__name(map)), rc);
    bpf_map* inner = bpf_map__inner_map(map);
    if (inner && (rc = bpf_map__set_max_entries(inner, n))) throw SyscallError(info.Env(), "set inner max entries", rc);
  }

  // setConst(name, value): before load, sets a `const volatile` integer global
  // (1, 2, 4 or 8 bytes) in .rodata; the verifier then treats it as a constant.
  void SetConst(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 2 || !info[0].IsString() || !info[1].IsNumber()) throw Napi::TypeError::New(env, "expected (name: string, value: number)");
    std::string name = info[0].As<Napi::String>();
    int64_t value = info[1].As<Napi::Number>().Int64Value();
    bpf_object* obj = Object(env);
    bpf_map* rodata = nullptr;
    bpf_map* map;
    bpf_object__for_each_map(map, obj) {
      std::string n = bpf_map__name(map);
      if (bpf_map__is_internal(map) && n.size() >= 7 && n.compare(n.size() - 7, 7, ".rodata") == 0) rodata = map;
    }
    const btf* types = bpf_object__btf(obj);
    int sec_id = types ? btf__find_by_name_kind(types, ".rodata", BTF_KIND_DATASEC) : -1;
    if (!rodata || sec_id < 0) throw Napi::Error::New(env, "the BPF object has no .rodata section");
    const btf_type* sec = btf__type_by_id(types, sec_id);
    const btf_var_secinfo* var = btf_var_secinfos(sec);
    for (int i = 0; i < btf_vlen(sec); i++, var++) {
      if (name != btf__name_by_offset(types, btf__type_by_id(types, var->type)->name_off)) continue;
      if (var->size != 1 && var->size != 2 && var->size != 4 && var->size != 8) throw Napi::TypeError::New(env, name + " is not an integer");
      size_t size = 0;
      const void* initial = bpf_map__initial_value(rodata, &size);
      if (!initial || var->offset + var->size > size) throw Napi::Error::New(env, "cannot read .rodata");
      std::vector<uint8_t> data(static_cast<const uint8_t*>(initial), static_cast<const uint8_t*>(initial) + size);
      memcpy(data.data() + var->offset, &value, var->size);  // little-endian host
      int rc = bpf_map__set_initial_value(rodata, data.data(), data.size());
      if (rc) throw SyscallError(env, "set " + name, rc);
      return;
    }
    throw Napi::Error::New(env, "no const volatile global named \"" + name + "\" in the BPF object");
  }

  // load(): every program in the object is a netfilter program.
  void Load(const Napi::CallbackInfo& info) {
    bpf_object* obj = Object(info.Env());
    bpf_program* prog;
    bpf_object__for_each_program(prog, obj) {
      bpf_program__set_type(prog, static_cast<bpf_prog_type>(kProgTypeNetfilter));
      bpf_program__set_expected_attach_type(prog, static_cast<bpf_attach_type>(kAttachNetfilter));
    }
    TakeLog();
    int rc = bpf_object__load(obj);
    if (rc) throw SyscallError(info.Env(), "load BPF object", rc);
  }

  // attachNetfilter(program, pf, priority, netnsPath?) -> link fd. The link
  // lives in the namespace it was created in and goes away when its fd closes.
  Napi::Value AttachNetfilter(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    bpf_program* prog = Program(info, 0);
    uint32_t pf = Uint(info, 1, "protocol family");
    if (info.Length() <= 2 || !info[2].IsNumber()) throw Napi::TypeError::New(env, "priority must be a number");
    int32_t priority = info[2].As<Napi::Number>().Int32Value();
    std::string netns;
    if (info.Length() > 3 && !info[3].IsUndefined()) {
      if (!info[3].IsString()) throw Napi::TypeError::New(env, "netns path must be a string");
      netns = info[3].As<Napi::String>();
    }
    int prog_fd = bpf_program__fd(prog);
    if (prog_fd < 0) throw Napi::Error::New(env, "the program is not loaded");
    TakeLog();
    int link_fd;
    if (netns.empty()) {
      link_fd = CreateNetfilterLink(prog_fd, pf, priority);
    } else {
      int target = open(netns.c_str(), O_RDONLY | O_CLOEXEC);
      if (target < 0) throw SyscallError(env, "open network namespace " + netns, errno);
      int home = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
      if (home < 0) {
        int err = errno;
        close(target);
        throw SyscallError(env, "open own network namespace", err);
      }
      if (setns(target, CLONE_NEWNET) != 0) {
        int err = errno;
        close(target);
        close(home);
        throw SyscallError(env, "enter network namespace " + netns, err);
      }
      link_fd = CreateNetfilterLink(prog_fd, pf, priority);
      int back = setns(home, CLONE_NEWNET);
      close(target);
      close(home);
      if (back != 0) {
        // The thread would keep serving from the wrong namespace: never carry on.
        fprintf(stderr, "zonetap: cannot return to the original network namespace: %s\n", strerror(errno));
        abort();
      }
    }
    if (link_fd < 0) throw SyscallError(env, "create netfilter link", link_fd);
    links_.push_back(link_fd);
    return Napi::Number::New(env, link_fd);
  }

  // detach(linkFd)
  void Detach(const Napi::CallbackInfo& info) {
    uint32_t fd = Uint(info, 0, "link fd");
    for (auto it = links_.begin(); it != links_.end(); ++it) {
      if (*it == static_cast<int>(fd)) {
        close(*it);
        links_.erase(it);
        return;
      }
    }
    throw Napi::Error::New(info.Env(), "not a link of this object");
  }

  // programInfo(name) -> { id, runCnt, runTimeNs } (counts need kernel.bpf_stats_enabled=1)
  Napi::Value ProgramInfo(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    int fd = bpf_program__fd(Program(info, 0));
    if (fd < 0) throw Napi::Error::New(env, "the program is not loaded");
    bpf_prog_info pi = {};
    uint32_t len = sizeof pi;
    if (bpf_obj_get_info_by_fd(fd, &pi, &len) != 0) throw SyscallError(env, "read program info", errno);
    Napi::Object out = Napi::Object::New(env);
    out.Set("id", Napi::Number::New(env, pi.id));
    out.Set("runCnt", Napi::BigInt::New(env, static_cast<uint64_t>(pi.run_cnt)));
    out.Set("runTimeNs", Napi::BigInt::New(env, static_cast<uint64_t>(pi.run_time_ns)));
    return out;
  }

  // mapInfo(name) -> { id, maxEntries, valueSize, possibleCpus }
  Napi::Value MapInfo(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    bpf_map* map = Map(info, 0);
    Napi::Object out = Napi::Object::New(env);
    bpf_map_info mi = {};
    uint32_t len = sizeof mi;
    int fd = bpf_map__fd(map);
    if (fd >= 0 && bpf_obj_get_info_by_fd(fd, &mi, &len) == 0) out.Set("id", Napi::Number::New(env, mi.id));
    out.Set("maxEntries", Napi::Number::New(env, bpf_map__max_entries(map)));
    out.Set("valueSize", Napi::Number::New(env, bpf_map__value_size(map)));
    out.Set("possibleCpus", Napi::Number::New(env, libbpf_num_possible_cpus()));
    return out;
  }

  // readPerCpu(mapName, key) -> Buffer of every CPU's value for a u32 key, CPU after CPU.
  Napi::Value ReadPerCpu(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    bpf_map* map = Map(info, 0);
    uint32_t key = Uint(info, 1, "key");
    int ncpus = libbpf_num_possible_cpus();
    size_t stride = (bpf_map__value_size(map) + 7) / 8 * 8;
    std::vector<uint8_t> values(stride * ncpus);
    if (bpf_map_lookup_elem(bpf_map__fd(map), &key, values.data()) != 0) throw SyscallError(env, "read " + std::string(bpf_map__name(map)), errno);
    return Napi::Buffer<uint8_t>::Copy(env, values.data(), values.size());
  }

  // swapAndDrain({ cache: { map, generation, next }, tables: [outer, next, retired], batchSize }) -> Promise<Buffer>
  Napi::Value SwapAndDrain(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsObject()) throw Napi::TypeError::New(env, "expected { cache, tables, batchSize }");
    Napi::Object options = info[0].As<Napi::Object>();
    auto find = [&](Napi::Value name, const std::string& what) {
      if (!name.IsString()) throw Napi::TypeError::New(env, what + " must be a map name");
      bpf_map* map = bpf_object__find_map_by_name(Object(env), name.As<Napi::String>().Utf8Value().c_str());
      if (!map) throw Napi::Error::New(env, "no map named \"" + name.As<Napi::String>().Utf8Value() + "\" in the BPF object");
      return map;
    };
    Napi::Value tables_value = options.Get("tables");
    if (!tables_value.IsArray() || tables_value.As<Napi::Array>().Length() != 3) throw Napi::TypeError::New(env, "tables must be [outer, next, retired] map names");
    Napi::Array table_names = tables_value.As<Napi::Array>();
    std::vector<bpf_map*> tables;
    for (uint32_t i = 0; i < 3; i++) tables.push_back(find(table_names.Get(i), "tables"));
    Napi::Value cache_value = options.Get("cache");
    if (!cache_value.IsObject()) throw Napi::TypeError::New(env, "cache must be { map, generation, next }");
    Napi::Object cache_options = cache_value.As<Napi::Object>();
    bpf_map* cache = find(cache_options.Get("map"), "cache.map");
    bpf_map* generation = find(cache_options.Get("generation"), "cache.generation");
    Napi::Value next_value = cache_options.Get("next");
    if (!next_value.IsNumber() || next_value.As<Napi::Number>().Uint32Value() > 1) throw Napi::TypeError::New(env, "cache.next must be 0 or 1");
    Napi::Value batch_value = options.Get("batchSize");
    if (!batch_value.IsNumber() || batch_value.As<Napi::Number>().Uint32Value() == 0) throw Napi::TypeError::New(env, "batchSize must be a positive number");
    if (bpf_map__value_size(tables[2]) != sizeof(flow_counters) || bpf_map__key_size(tables[2]) != sizeof(flow_key) ||
        bpf_map__value_size(cache) != sizeof(flow_cache_entry) || bpf_map__max_entries(cache) % (2 * FLOW_CACHE_SLOTS) != 0 ||
        bpf_map__value_size(generation) != sizeof(uint32_t))
      throw Napi::Error::New(env, "the maps' layout is not bpf/flows.h's");
    DrainMaps maps = {bpf_map__fd(cache), bpf_map__fd(generation), bpf_map__max_entries(cache), next_value.As<Napi::Number>().Uint32Value(),
                      bpf_map__fd(tables[0]), bpf_map__fd(tables[1]), bpf_map__fd(tables[2])};
    auto* worker = new DrainWorker(env, info.This().As<Napi::Object>(), &drains_in_flight_, maps, batch_value.As<Napi::Number>().Uint32Value());
    worker->Queue();
    return worker->Promise();
  }

  // close(): closes the links (detaching them), then the programs and maps.
  void Close(const Napi::CallbackInfo& info) {
    if (drains_in_flight_) throw Napi::Error::New(info.Env(), "a drain is in progress: await it before close()");
    Release();
  }

  void Release() {
    for (int fd : links_) close(fd);
    links_.clear();
    if (obj_) bpf_object__close(obj_);
    obj_ = nullptr;
  }

  bpf_object* obj_ = nullptr;
  std::vector<int> links_;
  int drains_in_flight_ = 0;
};

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  libbpf_set_print(CaptureLibbpfPrint);
  exports.Set("BpfObject", BpfObject::Define(env));
  exports.Set("flowKeySize", Napi::Number::New(env, sizeof(flow_key)));
  exports.Set("flowCountersSize", Napi::Number::New(env, sizeof(flow_counters)));
  exports.Set("overflowCountersSize", Napi::Number::New(env, sizeof(overflow_counters)));
  exports.Set("flowCacheEntrySize", Napi::Number::New(env, sizeof(flow_cache_entry)));
  exports.Set("flowCacheSlots", Napi::Number::New(env, FLOW_CACHE_SLOTS));
  return exports;
}

}  // namespace

NODE_API_MODULE(zonetap_native, Init)
