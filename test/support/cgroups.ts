/**
 * Test and simulation support: cgroup v2 trees laid out like the kubelet's
 * (receivers/cgroup/kubelet.ts), under one directory per user of it, and
 * removed again. A process is placed in a cgroup by writing its pid to the
 * cgroup's cgroup.procs before it opens a socket (netns.ts `run`, `inCgroup`).
 */
import { mkdirSync, statSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { cgroupMount, containerCgroupPath, inCgroup, podCgroupPath, removeCgroupTree, type CgroupDriver, type QosClass } from '../../sim/index.ts';

export { cgroupMount, podCgroupPath };

/** `[file, args]` for execFileSync/spawn: `command` run in the cgroup directory `cgroup` (netns.ts inCgroup). */
export function cgroupCommand(cgroup: string, command: string, ...args: string[]): [string, string[]] {
  const [shell, ...rest] = inCgroup(cgroup);
  return [shell!, [...rest, command, ...args]];
}

export interface TestPod {
  uid: string;
  /** The container's cgroup directory (put processes here). */
  container: string;
  /** Its cgroup id: the directory's inode number. */
  containerId: number;
}

/** Kubelet-shaped cgroups under `<mount>/<name>`; remove() takes them all away. */
export class KubeletCgroups {
  readonly mount: string;
  /** The directory standing for this test's "node": attach receivers here or at its kubepods. */
  readonly base: string;
  readonly driver: CgroupDriver;

  constructor(name: string, driver: CgroupDriver = 'systemd', mount = cgroupMount()) {
    this.mount = mount;
    this.base = join(mount, name);
    this.driver = driver;
  }

  /** The kubepods cgroup directory of this tree. */
  get kubepods(): string {
    return join(this.base, this.driver === 'systemd' ? 'kubepods.slice' : 'kubepods');
  }

  /** Creates a pod with one container cgroup (a new UID unless given). */
  pod(qos: QosClass = 'besteffort', uid: string = randomUUID()): TestPod {
    const container = join(this.base, containerCgroupPath(this.driver, podCgroupPath(this.driver, qos, uid), randomUUID().replaceAll('-', '')));
    mkdirSync(container, { recursive: true });
    return { uid, container, containerId: statSync(container).ino };
  }

  /** A cgroup outside any pod (like system.slice/x.service), created if missing. */
  other(path: string): string {
    const dir = join(this.base, path);
    mkdirSync(dir, { recursive: true });
    return dir;
  }

  /** Removes every cgroup of the tree and kills the processes still in them. */
  remove(): void {
    removeCgroupTree(this.base);
  }
}
