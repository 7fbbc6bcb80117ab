/**
 * Test and simulation support: cgroup v2 trees laid out like the kubelet's
 * (receivers/cgroup/kubelet.ts), under one directory per user of it, and
 * removed again. A process is placed in a cgroup by writing its pid to the
 * cgroup's cgroup.procs before it opens a socket (netns.ts `run`, `inCgroup`).
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, rmdirSync, statSync, writeFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { cgroup2Mounts } from '../../receivers/cgroup/index.ts';
import { inCgroup } from './netns.ts';

export type CgroupDriver = 'systemd' | 'cgroupfs';
export type QosClass = 'guaranteed' | 'burstable' | 'besteffort';

/** `[file, args]` for execFileSync/spawn: `command` run in the cgroup directory `cgroup` (netns.ts inCgroup). */
export function cgroupCommand(cgroup: string, command: string, ...args: string[]): [string, string[]] {
  const [shell, ...rest] = inCgroup(cgroup);
  return [shell!, [...rest, command, ...args]];
}

/** The cgroup v2 mount of this machine (/sys/fs/cgroup, or /sys/fs/cgroup/unified on hybrid hosts). */
export function cgroupMount(): string {
  const [mount] = cgroup2Mounts();
  if (!mount) throw new Error('no cgroup v2 hierarchy is mounted');
  return mount;
}

/** A pod's cgroup path below the kubepods cgroup, as the kubelet names it for `driver`. */
export function podCgroupPath(driver: CgroupDriver, qos: QosClass, uid: string): string {
  if (driver === 'cgroupfs') return qos === 'guaranteed' ? `kubepods/pod${uid}` : `kubepods/${qos}/pod${uid}`;
  const slice = uid.replaceAll('-', '_');
  return qos === 'guaranteed' ? `kubepods.slice/kubepods-pod${slice}.slice` : `kubepods.slice/kubepods-${qos}.slice/kubepods-${qos}-pod${slice}.slice`;
}

/** A container's cgroup below its pod's (containerd's names). */
export function containerCgroupPath(driver: CgroupDriver, podPath: string, containerId: string): string {
  return driver === 'cgroupfs' ? `${podPath}/${containerId}` : `${podPath}/cri-containerd-${containerId}.scope`;
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

  /**
   * Removes every cgroup of the tree, deepest first. Processes still in one
   * are moved to the tree's parent first (a cgroup with processes cannot go).
   */
  remove(): void {
    if (!existsSync(this.base)) return;
    removeTree(this.base, this.mount);
  }
}

function removeTree(dir: string, mount: string): void {
  for (const entry of readdirSync(dir, { withFileTypes: true })) if (entry.isDirectory()) removeTree(join(dir, entry.name), mount);
  for (const pid of readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean)) {
    try {
      writeFileSync(join(mount, 'cgroup.procs'), pid);
    } catch {
      // exited meanwhile
    }
  }
  rmdirSync(dir);
}
