/**
 * Privileged tests (eBPF, network namespaces) need root. Outside CI they skip,
 * saying why; in CI (CI=true) a missing privilege fails the test instead.
 */
import type { TestContext } from 'node:test';
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
