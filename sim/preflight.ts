/** What the demo needs from this machine, checked before anything is built. */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { release } from 'node:os';

export const MIN_KERNEL: readonly [number, number] = [6, 4];

/** Parses `6.1.0-18-amd64` into [6, 1]; undefined when it is not a version. */
export function kernelVersion(text = release()): [number, number] | undefined {
  const m = /^(\d+)\.(\d+)/.exec(text);
  return m ? [Number(m[1]), Number(m[2])] : undefined;
}

/** Every missing requirement, each with what to do; empty when the demo can run. */
export function demoProblems(): string[] {
  const problems: string[] = [];
  if (process.getuid?.() !== 0) {
    problems.push('it must run as root: it creates network namespaces and loads eBPF programs (try: sudo make demo)');
  }
  const version = kernelVersion();
  if (!version || version[0] < MIN_KERNEL[0] || (version[0] === MIN_KERNEL[0] && version[1] < MIN_KERNEL[1])) {
    problems.push(`it needs Linux >= ${MIN_KERNEL.join('.')} for eBPF netfilter links; this kernel is ${release()}`);
  }
  if (!existsSync('/sys/kernel/btf/vmlinux')) {
    problems.push('it needs kernel BTF (/sys/kernel/btf/vmlinux is missing): use a kernel built with CONFIG_DEBUG_INFO_BTF=y');
  }
  try {
    execFileSync('ip', ['-V'], { stdio: 'ignore' });
  } catch {
    problems.push('it needs iproute2 (`ip`): apt-get install iproute2');
  }
  return problems;
}
