/** What the demo needs from this machine, checked before anything is built. */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { release } from 'node:os';
import { ADDON_PATH } from '../native/index.ts';
import { cgroup2Mounts } from '../receivers/cgroup/index.ts';
import { HOST_ROUTING_OBJECT } from './host-routing.ts';

/** The netfilter receiver's netfilter links; the host-routing datapath's bpf_redirect_neigh with a next hop (5.13). */
export const MIN_KERNEL = { netfilter: [6, 4], cgroup: [5, 13] } as const satisfies Record<string, readonly [number, number]>;
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
  /** A cgroup v2 hierarchy is mounted (the cgroup receiver and the simulated pods' cgroups). */
  hasCgroup2(): boolean;
}

const hasCommand = (name: string) => {
  try {
    execFileSync(name, ['-V'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
};

export const THIS_HOST: Host = {
  platform: process.platform,
  uid: process.getuid?.(),
  kernel: release(),
  exists: existsSync,
  hasCommand,
  hasCgroup2: () => cgroup2Mounts().length > 0,
};

/**
 * Every missing requirement, each with what to do; empty when the demo can
 * run with agents using `receiver` (cgroup: on nodes with the eBPF
 * host-routing datapath).
 */
export function demoProblems(host: Host = THIS_HOST, receiver: 'netfilter' | 'cgroup' = 'netfilter'): string[] {
  const [major, minor] = MIN_KERNEL[receiver];
  if (host.platform !== 'linux') return [`it needs Linux >= ${major}.${minor} (eBPF and network namespaces); this is ${host.platform}`];
  const problems: string[] = [];
  if (host.uid !== 0) {
    problems.push('it must run as root: it creates network namespaces and loads eBPF programs (try: sudo make demo)');
  }
  const version = kernelVersion(host.kernel);
  if (!version || version[0] < major || (version[0] === major && version[1] < minor)) {
    const why = receiver === 'netfilter' ? 'eBPF netfilter links' : 'the cgroup receiver and the simulated eBPF host routing (bpf_redirect_neigh with a next hop)';
    problems.push(`it needs Linux >= ${major}.${minor} for ${why}; this kernel is ${host.kernel}`);
  }
  if (receiver === 'netfilter' && !host.exists(BTF)) {
    problems.push(`it needs kernel BTF (${BTF} is missing): use a kernel built with CONFIG_DEBUG_INFO_BTF=y`);
  }
  if (receiver === 'cgroup' && !host.hasCgroup2()) {
    problems.push('it needs a cgroup v2 hierarchy (none is mounted): mount -t cgroup2 none /sys/fs/cgroup');
  }
  // The addon carries the flow-table programs; the host-routing datapath is an object of its own.
  const unbuilt = [ADDON_PATH, ...(receiver === 'cgroup' ? [HOST_ROUTING_OBJECT] : [])].filter((path) => !host.exists(path));
  if (unbuilt.length > 0) {
    problems.push(`it needs the eBPF programs and the native addon, which are not built (${unbuilt.join(', ')} missing): run \`make demo\`, which builds them first, or \`make build\``);
  }
  if (!host.hasCommand('ip')) {
    problems.push('it needs iproute2 (`ip`): apt-get install iproute2');
  }
  return problems;
}
