#include "program.h"

#include <errno.h>
#include <unistd.h>

#include <string>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "errors.h"
#include "links.h"

namespace zonetap {

Napi::Function ProgramFile::Define(Napi::Env env) {
  return DefineClass(env, "ProgramFile",
                     {InstanceMethod("load", &ProgramFile::Load),
                      InstanceMethod("attachNetfilter", &ProgramFile::AttachNetfilterHook),
                      InstanceMethod("attachCgroup", &ProgramFile::AttachCgroupHook),
                      InstanceMethod("detach", &ProgramFile::Detach),
                      InstanceMethod("info", &ProgramFile::Info),
                      InstanceMethod("close", &ProgramFile::Close)});
}

// new ProgramFile(path): opens the object; its first program is the one used.
ProgramFile::ProgramFile(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ProgramFile>(info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString()) throw Napi::TypeError::New(env, "path must be a string");
  std::string path = info[0].As<Napi::String>();
  TakeLibbpfLog();
  obj_ = bpf_object__open_file(path.c_str(), nullptr);
  if (!obj_) throw SyscallError(env, "open " + path, errno);
  prog_ = bpf_object__next_program(obj_, nullptr);
  if (!prog_) {
    Release();
    throw Napi::Error::New(env, path + " has no program");
  }
}

ProgramFile::~ProgramFile() { Release(); }

// load(): netfilter programs need their type set (libbpf 1.1 predates them);
// others take it from their section name.
void ProgramFile::Load(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!obj_) throw Napi::Error::New(env, "the object is closed");
  if (std::string(bpf_program__section_name(prog_)) == "netfilter") {
    bpf_program__set_type(prog_, static_cast<bpf_prog_type>(32));                  // BPF_PROG_TYPE_NETFILTER
    bpf_program__set_expected_attach_type(prog_, static_cast<bpf_attach_type>(45));  // BPF_NETFILTER
  }
  TakeLibbpfLog();
  int rc = bpf_object__load(obj_);
  if (rc) throw SyscallError(env, "load BPF object", rc);
  loaded_ = true;
}

bpf_program* ProgramFile::Loaded(Napi::Env env) {
  if (!obj_ || !loaded_) throw Napi::Error::New(env, "the program is not loaded");
  return prog_;
}

// attachNetfilter(family: 4 | 6, priority, netnsPath?) -> link fd
Napi::Value ProgramFile::AttachNetfilterHook(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = bpf_program__fd(Loaded(env));
  if (info.Length() < 2 || !info[0].IsNumber() || !info[1].IsNumber()) throw Napi::TypeError::New(env, "expected (family, priority, netnsPath?)");
  int family = info[0].As<Napi::Number>().Int32Value();
  std::string netns = info.Length() > 2 && info[2].IsString() ? info[2].As<Napi::String>().Utf8Value() : "";
  std::string op;
  int link = AttachNetfilter(fd, family == 6 ? 10 : 2, info[1].As<Napi::Number>().Int32Value(), netns, op);
  if (link < 0) throw SyscallError(env, op, link);
  links_.push_back(link);
  return Napi::Number::New(env, link);
}

// attachCgroup(path) -> link fd
Napi::Value ProgramFile::AttachCgroupHook(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = bpf_program__fd(Loaded(env));
  if (info.Length() < 1 || !info[0].IsString()) throw Napi::TypeError::New(env, "cgroup path must be a string");
  std::string op;
  int link = AttachCgroupEgress(fd, info[0].As<Napi::String>(), op);
  if (link < 0) throw SyscallError(env, op, link);
  links_.push_back(link);
  return Napi::Number::New(env, link);
}

void ProgramFile::Detach(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsNumber()) throw Napi::TypeError::New(info.Env(), "link fd must be a number");
  int fd = info[0].As<Napi::Number>().Int32Value();
  for (auto it = links_.begin(); it != links_.end(); ++it) {
    if (*it == fd) {
      close(fd);
      links_.erase(it);
      return;
    }
  }
  throw Napi::Error::New(info.Env(), "not a link of this program");
}

// info() -> { id, runCnt, runTimeNs }
Napi::Value ProgramFile::Info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  bpf_prog_info pi = {};
  uint32_t len = sizeof pi;
  if (bpf_obj_get_info_by_fd(bpf_program__fd(Loaded(env)), &pi, &len) != 0) throw SyscallError(env, "read program info", errno);
  Napi::Object out = Napi::Object::New(env);
  out.Set("id", Napi::Number::New(env, pi.id));
  out.Set("runCnt", Napi::BigInt::New(env, static_cast<uint64_t>(pi.run_cnt)));
  out.Set("runTimeNs", Napi::BigInt::New(env, static_cast<uint64_t>(pi.run_time_ns)));
  return out;
}

void ProgramFile::Close(const Napi::CallbackInfo&) { Release(); }

void ProgramFile::Release() {
  for (int fd : links_) close(fd);
  links_.clear();
  if (obj_) bpf_object__close(obj_);
  obj_ = nullptr;
  prog_ = nullptr;
}

}  // namespace zonetap
