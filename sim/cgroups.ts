/**
 * The simulated nodes' cgroups, laid out like the kubelet's: under one
 * directory per node (`<prefix>n-<node>` in the cgroup v2 hierarchy), the
 * kubepods cgroup, the pod's cgroup named by its UID and a container's below
 * it; every process of a pod runs in its container's cgroup, so the cgroup
 * receiver names it as a real agent would. Removal is synchronous, like the
 * namespaces' (it must also work from an 'exit' handler).
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cgroup2Mounts } from '../receivers/cgroup/index.ts';

export type CgroupDriver = 'systemd' | 'cgroupfs';
export type QosClass = 'guaranteed' | 'burstable' | 'besteffort';

/** A pod's cgroup path below the kubepods cgroup's parent, as the kubelet names it for `driver`. */
export function podCgroupPath(driver: CgroupDriver, qos: QosClass, uid: string): string {
  if (driver === 'cgroupfs') return qos === 'guaranteed' ? `kubepods/pod${uid}` : `kubepods/${qos}/pod${uid}`;
  const slice = uid.replaceAll('-', '_');
  return qos === 'guaranteed' ? `kubepods.slice/kubepods-pod${slice}.slice` : `kubepods.slice/kubepods-${qos}.slice/kubepods-${qos}-pod${slice}.slice`;
}

/** A container's cgroup below its pod's (containerd's names). */
export function containerCgroupPath(driver: CgroupDriver, podPath: string, containerId: string): string {
  return driver === 'cgroupfs' ? `${podPath}/${containerId}` : `${podPath}/cri-containerd-${containerId}.scope`;
}

/** A stable UUID (version-4 shaped) from a name: a simulated pod's UID, the same in every run. */
export function uidOf(name: string): string {
  const h = createHash('sha256').update(name).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** The cgroup v2 mount of this machine (/sys/fs/cgroup, or /sys/fs/cgroup/unified on hybrid hosts). */
export function cgroupMount(): string {
  const [mount] = cgroup2Mounts();
  if (!mount) throw new Error('no cgroup v2 hierarchy is mounted (the cgroup receiver and the simulated pods need one)');
  return mount;
}

/**
 * Removes the cgroup directory `dir` and everything below it: its processes
 * are killed (cgroup.kill, else SIGKILL to each), then the directories go,
 * deepest first, as soon as they are empty. Missing: nothing to do.
 */
export function removeCgroupTree(dir: string): void {
  if (!existsSync(dir)) return;
  if (existsSync(join(dir, 'cgroup.kill'))) writeFileSync(join(dir, 'cgroup.kill'), '1');
  else killProcesses(dir);
  const deadline = Date.now() + 5000;
  for (;;) {
    try {
      removeEmpty(dir);
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EBUSY' || Date.now() > deadline) throw err;
      killProcesses(dir);
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20); // a synchronous pause: killed processes take a moment to go
    }
  }
}

/** Removes the cgroups of every node of a scenario `prefix` (what a crashed run left behind). */
export function removeCgroups(prefix: string): void {
  const mount = cgroup2Mounts()[0];
  if (!mount) return;
  for (const entry of readdirSync(mount, { withFileTypes: true })) {
    if (entry.isDirectory() && entry.name.startsWith(prefix)) removeCgroupTree(join(mount, entry.name));
  }
}

function killProcesses(dir: string): void {
  for (const entry of readdirSync(dir, { withFileTypes: true })) if (entry.isDirectory()) killProcesses(join(dir, entry.name));
  for (const pid of readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean)) {
    try {
      process.kill(Number(pid), 'SIGKILL');
    } catch {
      // gone
    }
  }
}

function removeEmpty(dir: string): void {
  if (!existsSync(dir)) return;
  for (const entry of readdirSync(dir, { withFileTypes: true })) if (entry.isDirectory()) removeEmpty(join(dir, entry.name));
  rmdirSync(dir);
}
