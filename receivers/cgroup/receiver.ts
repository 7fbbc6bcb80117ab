/**
 * The cgroup receiver: bpf/cgroup.bpf.c at cgroup_skb egress of a cgroup v2
 * directory (every socket in it and below), drained by the shared kernel
 * receiver (receivers/kernel). Each flow carries the sending socket's cgroup,
 * which names its pod (pods.ts). Linux >= 5.8, any datapath.
 */
import { statSync } from 'node:fs';
import type { ComponentSettings, FlowConsumer } from '../../pipeline/component.ts';
import { KernelFlowTable, kernelRelease, requireKernel, type SocketSourcesOptions } from '../../native/index.ts';
import { KernelReceiver, type KernelHook } from '../kernel/index.ts';
import type { CgroupConfig } from './config.ts';
import { attachDirectory, cgroupRoot } from './hierarchy.ts';
import { CgroupPods } from './pods.ts';
import { namePodSources } from './sources.ts';

/** How long a pod cgroup's id keeps naming its pod after the cgroup is gone (its last flows drain after it). */
const POD_GRACE_MS = 10 * 60_000;

/** Counts flows at the sockets of the cgroup `cgroup_path` and names the sending pods. */
export class CgroupReceiver extends KernelReceiver {
  constructor(settings: ComponentSettings, config: CgroupConfig, next: FlowConsumer) {
    super(settings, config, next, cgroupHook(config));
  }
}

function cgroupHook(config: CgroupConfig): KernelHook {
  let pods: CgroupPods | undefined;
  const where = () => {
    const root = cgroupRoot(config.cgroup_root);
    return { root, attached: attachDirectory(root, config.cgroup_path) };
  };
  return {
    kind: 'cgroup',
    cgroupId: () => statSync(where().attached.path).ino,
    open(sharing: SocketSourcesOptions | undefined) {
      requireKernel('cgroup');
      const { root, attached } = where();
      pods = new CgroupPods(root, attached.path, POD_GRACE_MS);
      pods.refresh();
      const table = KernelFlowTable.open({ kind: 'cgroup', maxFlows: config.max_flows, ...(sharing ? { socketSources: sharing } : {}) });
      try {
        table.attachCgroup(attached.path);
      } catch (err) {
        table.close();
        throw err;
      }
      const path = 'cgroup_skb egress, direct packet reads';
      const why = `Linux ${kernelRelease()} >= 5.8`;
      const alongside = sharing ? "; the sources it counts are left out of the netfilter receiver's counts" : '';
      return {
        table,
        message: `counting flows at the sockets of cgroup ${attached.cgroup} (${attached.path}): ${path} (${why})${alongside}`,
        fields: { receiver: 'cgroup', path, cgroup: attached.cgroup, cgroup_root: root, socket_sources: sharing?.mode ?? 'off' },
      };
    },
    prepare() {
      pods?.refresh();
    },
    annotate(chunk) {
      if (pods) namePodSources(chunk, pods);
    },
  };
}
