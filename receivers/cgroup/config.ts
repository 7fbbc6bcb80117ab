import { z } from 'zod';
import { kernelFlowsConfigShape } from '../kernel/index.ts';

/** `receivers: cgroup:` — see README.md. */
export const cgroupConfigSchema = z.strictObject({
  ...kernelFlowsConfigShape,
  /**
   * The cgroup v2 directory to attach to, as a path in the hierarchy: `/`
   * (every socket on the node), `/kubepods.slice` or `/kubepods` (pods only),
   * or any other. `auto`: the kubelet's kubepods cgroup when there is one, else `/`.
   */
  cgroup_path: z
    .string({ error: 'expected a cgroup path like /kubepods.slice, / or auto' })
    .refine((p) => p === 'auto' || (p.startsWith('/') && !p.split('/').includes('..')), {
      error: 'expected auto or an absolute cgroup path without "..", like /kubepods.slice',
    })
    .default('auto'),
  /**
   * Where the host's cgroup v2 hierarchy is mounted, e.g. /sys/fs/cgroup, or
   * /sys/fs/cgroup/unified on hosts with v1 and v2 mounted side by side.
   * Unset: the cgroup2 mount found in /proc/self/mountinfo.
   */
  cgroup_root: z.string({ error: 'expected a directory like /sys/fs/cgroup' }).startsWith('/', { error: 'expected an absolute directory like /sys/fs/cgroup' }).optional(),
});

export type CgroupConfig = z.output<typeof cgroupConfigSchema>;
