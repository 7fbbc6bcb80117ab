/** What the demo needs from this machine, checked before anything is built. */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { release } from 'node:os';
import { ADDON_PATH, FLOWS_OBJECT_PATH } from '../native/index.ts';

export const MIN_KERNEL: readonly [number, number] = [6, 4];
const BTF = '/sys/kernel/btf/vmlinux';

/** Where to go when the demo cannot run: the quick start needs none of it. */
export const QUICK_START_HINT =
  'Without root or on another system, the quick start replays a recorded demo with the same live view and Prometheus metrics, ' +
  'as any user on any OS with Node.js 24: from the checkout, run `bin/zonetap run --config config/quickstart.yaml` (README.md, "Quick start").';

/** Parses `6.1.0-18-amd64` into [6, 1]; undefined when it is not a version. */
export function kernelVersion(text = release()): [number, number] | undefined {
  const m = /^(\d+)\.(\d+)/.exec(text);
  return m ? [Number(m[1]), Number(m[2])] : undefined;
}

/** The facts about this machine the demo depends on (a test gives others). */
export interface Host {
  platform: NodeJS.Platform;
  uid: number | undefined;
  kernel: string;
  exists(path: string): boolean;
  hasCommand(name: string): boolean;
}

const hasCommand = (name: string) => {
  try {
    execFileSync(name, ['-V'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
};

export const THIS_HOST: Host = { platform: process.platform, uid: process.getuid?.(), kernel: release(), exists: existsSync, hasCommand };

/** Every missing requirement, each with what to do; empty when the demo can run. */
export function demoProblems(host: Host = THIS_HOST): string[] {
  if (host.platform !== 'linux') return [`it needs Linux >= ${MIN_KERNEL.join('.')} (eBPF netfilter links and network namespaces); this is ${host.platform}`];
  const problems: string[] = [];
  if (host.uid !== 0) {
    problems.push('it must run as root: it creates network namespaces and loads eBPF programs (try: sudo make demo)');
  }
  const version = kernelVersion(host.kernel);
  if (!version || version[0] < MIN_KERNEL[0] || (version[0] === MIN_KERNEL[0] && version[1] < MIN_KERNEL[1])) {
    problems.push(`it needs Linux >= ${MIN_KERNEL.join('.')} for eBPF netfilter links; this kernel is ${host.kernel}`);
  }
  if (!host.exists(BTF)) {
    problems.push(`it needs kernel BTF (${BTF} is missing): use a kernel built with CONFIG_DEBUG_INFO_BTF=y`);
  }
  const unbuilt = [FLOWS_OBJECT_PATH, ADDON_PATH].filter((path) => !host.exists(path));
  if (unbuilt.length > 0) {
    problems.push(`it needs the eBPF program and the native addon, which are not built (${unbuilt.join(', ')} missing): run \`make demo\`, which builds them first, or \`make build\``);
  }
  if (!host.hasCommand('ip')) {
    problems.push('it needs iproute2 (`ip`): apt-get install iproute2');
  }
  return problems;
}
