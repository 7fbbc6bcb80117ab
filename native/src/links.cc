#include "links.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <bpf/bpf.h>

namespace zonetap {
namespace {

// Not in Debian 12's UAPI headers (Linux 6.1): netfilter links came in 6.4.
constexpr uint32_t kAttachNetfilter = 45;  // BPF_NETFILTER
constexpr uint32_t kNfInetPostRouting = 4; // NF_INET_POST_ROUTING

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

}  // namespace

int AttachNetfilter(int prog_fd, int pf, int priority, const std::string& netns_path, std::string& op) {
  op = "create netfilter link";
  if (netns_path.empty()) return CreateNetfilterLink(prog_fd, pf, priority);
  int target = open(netns_path.c_str(), O_RDONLY | O_CLOEXEC);
  if (target < 0) return op = "open network namespace " + netns_path, -errno;
  int home = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (home < 0) {
    int err = errno;
    close(target);
    return op = "open own network namespace", -err;
  }
  if (setns(target, CLONE_NEWNET) != 0) {
    int err = errno;
    close(target);
    close(home);
    return op = "enter network namespace " + netns_path, -err;
  }
  int link = CreateNetfilterLink(prog_fd, pf, priority);
  int back = setns(home, CLONE_NEWNET);
  close(target);
  close(home);
  if (back != 0) {
    // The thread would keep serving from the wrong namespace: never carry on.
    fprintf(stderr, "zonetap: cannot return to the original network namespace: %s\n", strerror(errno));
    abort();
  }
  return link;
}

int AttachCgroupEgress(int prog_fd, const std::string& cgroup_path, std::string& op) {
  op = "open cgroup " + cgroup_path;
  int cgroup = open(cgroup_path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (cgroup < 0) return -errno;
  op = "create cgroup link on " + cgroup_path;
  int link = bpf_link_create(prog_fd, cgroup, BPF_CGROUP_INET_EGRESS, nullptr);  // -errno on failure
  close(cgroup);
  return link;
}

}  // namespace zonetap
