/**
 * Where the cgroup v2 hierarchy is and which directory the receiver attaches
 * to. cgroup_skb programs attach to v2 cgroups only: on hosts that mount v1
 * controllers and v2 side by side (systemd's "hybrid" layout) the v2 tree is
 * the one at /sys/fs/cgroup/unified; cgroup ids are the v2 tree's either way.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ZonetapError } from '../../pipeline/errors.ts';

/** Mount points of cgroup2 filesystems, from mountinfo ("ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS ... - FSTYPE ..."). */
export function cgroup2Mounts(mountinfo = readFileSync('/proc/self/mountinfo', 'utf8')): string[] {
  const mounts: string[] = [];
  for (const line of mountinfo.split('\n')) {
    const [left, right] = line.split(' - ');
    if (!left || !right || right.split(' ')[0] !== 'cgroup2') continue;
    const fields = left.split(' ');
    // Octal escapes (\040 for a space) as the kernel writes them.
    if (fields[4]) mounts.push(fields[4].replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8))));
  }
  return mounts;
}

/** The cgroup v2 mount to use: `configured`, else the first one mounted. */
export function cgroupRoot(configured: string | undefined): string {
  if (configured !== undefined) {
    if (!existsSync(join(configured, 'cgroup.controllers'))) {
      throw new ZonetapError('ZT_BPF', `cgroup_root "${configured}" is not a cgroup v2 mount (no cgroup.controllers in it): mount the host's cgroup v2 hierarchy there or fix cgroup_root`);
    }
    return configured;
  }
  const [mount] = cgroup2Mounts();
  if (mount === undefined) {
    throw new ZonetapError('ZT_BPF', 'no cgroup v2 hierarchy is mounted (no cgroup2 in /proc/self/mountinfo): the cgroup receiver needs one; mount it (mount -t cgroup2 none /sys/fs/cgroup) or set cgroup_root');
  }
  return mount;
}

/** Kubelet's pod cgroup: the systemd driver's slice or the cgroupfs driver's directory. */
const KUBEPODS = ['kubepods.slice', 'kubepods'];

/** The directory to attach to: `cgroup_path` under `root`; `auto` is kubepods when present, else the root. */
export function attachDirectory(root: string, cgroupPath: string): { path: string; cgroup: string } {
  if (cgroupPath === 'auto') {
    const kubepods = KUBEPODS.find((d) => existsSync(join(root, d, 'cgroup.procs')));
    return kubepods ? { path: join(root, kubepods), cgroup: `/${kubepods}` } : { path: root, cgroup: '/' };
  }
  const path = join(root, cgroupPath);
  if (!existsSync(path) || !statSync(path).isDirectory()) {
    throw new ZonetapError('ZT_BPF', `cgroup_path "${cgroupPath}" does not exist under the cgroup v2 hierarchy at ${root} (${path} is missing)`);
  }
  return { path, cgroup: cgroupPath };
}
