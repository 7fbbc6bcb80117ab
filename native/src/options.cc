#include "options.h"

#include <string>

namespace zonetap {
namespace {

uint32_t Uint(Napi::Object o, const char* key) {
  Napi::Value v = o.Get(key);
  double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : -1;
  if (d < 0 || d > 4294967295.0 || d != static_cast<uint32_t>(d)) throw Napi::TypeError::New(o.Env(), std::string(key) + " must be an unsigned 32-bit integer");
  return static_cast<uint32_t>(d);
}

bool Bool(Napi::Object o, const char* key) {
  Napi::Value v = o.Get(key);
  if (!v.IsBoolean()) throw Napi::TypeError::New(o.Env(), std::string(key) + " must be a boolean");
  return v.As<Napi::Boolean>().Value();
}

}  // namespace

OpenOptions ParseOpenOptions(Napi::Object o, const std::function<int(Napi::Object)>& fd_of) {
  OpenOptions out;
  out.max_flows = Uint(o, "maxFlows");
  if (out.max_flows == 0) throw Napi::TypeError::New(o.Env(), "maxFlows must be positive");
  out.flow_cache = Bool(o, "flowCache");
  out.insert_delay_ns = Uint(o, "insertDelayNs");
  out.wide_header_loads = Bool(o, "wideHeaderLoads");
  Napi::Value mode = o.Get("socketSources");
  std::string m = mode.IsString() ? mode.As<Napi::String>().Utf8Value() : "";
  if (m == "off") out.socket_sources = SocketSources::kOff;
  else if (m == "record") out.socket_sources = SocketSources::kRecord;
  else if (m == "skip") out.socket_sources = SocketSources::kSkip;
  else throw Napi::TypeError::New(o.Env(), "socketSources must be \"off\", \"record\" or \"skip\"");
  out.socket_sources_entries = Uint(o, "socketSourcesEntries");
  if (out.socket_sources_entries == 0) throw Napi::TypeError::New(o.Env(), "socketSourcesEntries must be positive");
  Napi::Value skip = o.Get("skipCgroupId");
  double id = skip.IsNumber() ? skip.As<Napi::Number>().DoubleValue() : -1;
  if (id < 0 || id > 9007199254740991.0 || id != static_cast<double>(static_cast<uint64_t>(id))) throw Napi::TypeError::New(o.Env(), "skipCgroupId must be a cgroup id (0 for none)");
  out.skip_cgroup_id = static_cast<uint64_t>(id);
  out.share_socket_sources_fd = -1;
  Napi::Value share = o.Get("shareSocketSourcesWith");
  if (!share.IsUndefined()) {
    if (!share.IsObject()) throw Napi::TypeError::New(o.Env(), "shareSocketSourcesWith must be a FlowTable");
    out.share_socket_sources_fd = fd_of(share.As<Napi::Object>());
    if (out.share_socket_sources_fd < 0) throw Napi::Error::New(o.Env(), "shareSocketSourcesWith is closed");
  }
  return out;
}

}  // namespace zonetap
