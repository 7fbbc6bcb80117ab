// BPF links: the hook a program runs on, alive as long as the link's fd.
// Each returns the link's fd, or -errno with `op` naming the failed step.
#pragma once
#include <string>

namespace zonetap {

// A netfilter link at NF_INET_POST_ROUTING (Linux >= 6.4) for protocol family
// `pf`, inside the network namespace at `netns_path` when it is not empty
// (entered on this thread for the call only).
int AttachNetfilter(int prog_fd, int pf, int priority, const std::string& netns_path, std::string& op);

// A cgroup link (BPF_CGROUP_INET_EGRESS, Linux >= 5.7) on the cgroup v2
// directory `cgroup_path`; it applies to every descendant cgroup too.
int AttachCgroupEgress(int prog_fd, const std::string& cgroup_path, std::string& op);

}  // namespace zonetap
