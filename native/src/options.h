// The options a FlowTable is opened with, converted from JavaScript. Every
// field is required: the defaults live in TypeScript (native/flow-table.ts).
#pragma once
#include <napi.h>

#include <stdint.h>

#include <functional>

namespace zonetap {

// socket_sources.bpf.h: what this object does with the shared map.
enum class SocketSources { kOff, kRecord, kSkip };

struct OpenOptions {
  uint32_t max_flows;
  bool flow_cache;
  uint32_t insert_delay_ns;
  bool wide_header_loads;
  SocketSources socket_sources;
  uint32_t socket_sources_entries;
  int share_socket_sources_fd;  // -1: create the map
  uint64_t skip_cgroup_id;      // netfilter, with socket_sources kSkip: the cgroup receiver's cgroup
};

// `fd_of` turns the FlowTable given as shareSocketSourcesWith into its map fd.
OpenOptions ParseOpenOptions(Napi::Object options, const std::function<int(Napi::Object)>& fd_of);

}  // namespace zonetap
