#include "errors.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <algorithm>
#include <mutex>

#include <bpf/libbpf.h>

namespace zonetap {
namespace {

constexpr size_t kLogKeep = 16384;  // the tail of libbpf's output (the verifier log)
std::mutex log_mutex;
std::string libbpf_log;

int Capture(enum libbpf_print_level level, const char* fmt, va_list args) {
  if (level == LIBBPF_DEBUG) return 0;
  // One message can be a whole verifier log: size it first, keep its tail.
  va_list copy;
  va_copy(copy, args);
  int n = vsnprintf(nullptr, 0, fmt, copy);
  va_end(copy);
  if (n <= 0) return n;
  std::string message(static_cast<size_t>(n) + 1, '\0');
  vsnprintf(message.data(), message.size(), fmt, args);
  message.resize(n);
  std::lock_guard<std::mutex> lock(log_mutex);
  libbpf_log.append(message);
  if (libbpf_log.size() > 2 * kLogKeep) libbpf_log.erase(0, libbpf_log.size() - kLogKeep);
  return n;
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
    case ENOTDIR: return "ENOTDIR";
    case EIO: return "EIO";
    default: return "E?";
  }
}

}  // namespace

void CaptureLibbpfLog() { libbpf_set_print(Capture); }

std::string TakeLibbpfLog() {
  std::lock_guard<std::mutex> lock(log_mutex);
  std::string out = libbpf_log.size() > kLogKeep ? libbpf_log.substr(libbpf_log.size() - kLogKeep) : libbpf_log;
  libbpf_log.clear();
  return out;
}

Napi::Error SyscallError(Napi::Env env, const std::string& op, int err) {
  if (err < 0) err = -err;
  Napi::Error e = Napi::Error::New(env, op + ": " + strerror(err));
  e.Set("op", op);
  e.Set("errno", Napi::Number::New(env, err));
  e.Set("code", ErrnoName(err));
  e.Set("libbpfLog", TakeLibbpfLog());
  return e;
}

}  // namespace zonetap
