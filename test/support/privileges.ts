/**
 * Privileged tests (eBPF, network namespaces) need root. Outside CI they skip,
 * saying why; in CI (CI=true) a missing privilege fails the test instead.
 * Tests of the netfilter receiver (the default) need Linux >= 6.4 and BTF;
 * tests of the cgroup receiver need Linux >= 5.8 and a cgroup v2 hierarchy.
 */
import type { TestContext, TestOptions } from 'node:test';
import { existsSync, readFileSync } from 'node:fs';
import { release } from 'node:os';

export type KernelReceiverKind = 'netfilter' | 'cgroup';

export function privilegeProblem(receiver: KernelReceiverKind = 'netfilter'): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root (eBPF and network namespaces)';
  const [major = 0, minor = 0] = release().split('.').map((n) => parseInt(n, 10));
  if (receiver === 'cgroup') {
    if (major < 5 || (major === 5 && minor < 8)) return `needs Linux >= 5.8 for the cgroup receiver (this kernel is ${release()})`;
    if (!readFileSync('/proc/self/mountinfo', 'utf8').includes(' - cgroup2 ')) return 'needs a cgroup v2 hierarchy mounted';
    return undefined;
  }
  if (!existsSync('/sys/kernel/btf/vmlinux')) return 'needs kernel BTF at /sys/kernel/btf/vmlinux';
  if (major < 6 || (major === 6 && minor < 4)) return `needs Linux >= 6.4 for netfilter eBPF links (this kernel is ${release()})`;
  return undefined;
}

/** Returns true when the test may go on; otherwise skips it (or fails it in CI). */
export function requirePrivileges(t: TestContext, receiver: KernelReceiverKind = 'netfilter'): boolean {
  const problem = privilegeProblem(receiver);
  if (!problem) return true;
  if (process.env.CI) throw new Error(`privileged test cannot run in CI: ${problem}`);
  t.skip(problem);
  return false;
}

/**
 * Options for a privileged test or suite: skipped with the reason outside CI
 * when privileges are missing; run under CI, where the test (or the suite's
 * before() hook) calls assertPrivileged() first, to fail saying what is
 * missing rather than on a side effect.
 */
export function privileged(options: TestOptions = {}, receiver: KernelReceiverKind = 'netfilter'): TestOptions {
  const problem = privilegeProblem(receiver);
  return { ...options, skip: problem !== undefined && !process.env.CI ? problem : false };
}

/** Throws, saying what is missing, when the privileges are not there (in CI, where privileged() does not skip). */
export function assertPrivileged(receiver: KernelReceiverKind = 'netfilter'): void {
  const problem = privilegeProblem(receiver);
  if (problem) throw new Error(`privileged test cannot run in CI: ${problem}`);
}
