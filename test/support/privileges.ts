/**
 * Privileged tests (eBPF, network namespaces) need root. Outside CI they skip,
 * saying why; in CI (CI=true) a missing privilege fails the test instead.
 */
import type { TestContext, TestOptions } from 'node:test';
import { existsSync } from 'node:fs';
import { release } from 'node:os';

export function privilegeProblem(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root (eBPF and network namespaces)';
  if (!existsSync('/sys/kernel/btf/vmlinux')) return 'needs kernel BTF at /sys/kernel/btf/vmlinux';
  const [major = 0, minor = 0] = release().split('.').map((n) => parseInt(n, 10));
  if (major < 6 || (major === 6 && minor < 4)) return `needs Linux >= 6.4 for netfilter eBPF links (this kernel is ${release()})`;
  return undefined;
}

/** Returns true when the test may go on; otherwise skips it (or fails it in CI). */
export function requirePrivileges(t: TestContext): boolean {
  const problem = privilegeProblem();
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
export function privileged(options: TestOptions = {}): TestOptions {
  const problem = privilegeProblem();
  return { ...options, skip: problem !== undefined && !process.env.CI ? problem : false };
}

/** Throws, saying what is missing, when the privileges are not there (in CI, where privileged() does not skip). */
export function assertPrivileged(): void {
  const problem = privilegeProblem();
  if (problem) throw new Error(`privileged test cannot run in CI: ${problem}`);
}
