// libbpf's messages and syscall errors, carried to JavaScript: every error the
// addon throws has the failed operation, errno, its name and libbpf's log
// (warnings and the verifier's), so native/index.ts can say what to do.
#pragma once
#include <napi.h>

#include <string>

namespace zonetap {

// Installs the libbpf print callback that keeps libbpf's messages.
void CaptureLibbpfLog();
// Returns and clears libbpf's messages since the last call.
std::string TakeLibbpfLog();
// A JavaScript Error: `op: strerror(err)` with op, errno, code and libbpfLog set.
Napi::Error SyscallError(Napi::Env env, const std::string& op, int err);

}  // namespace zonetap
