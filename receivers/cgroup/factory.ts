import type { ReceiverFactory } from '../../pipeline/component.ts';
import { cgroupConfigSchema, type CgroupConfig } from './config.ts';
import { CgroupReceiver } from './receiver.ts';

export const cgroupReceiverFactory: ReceiverFactory<CgroupConfig> = {
  kind: 'receiver',
  type: 'cgroup',
  stability: 'alpha',
  description: "Counts bytes and packets per flow at the sending sockets with an eBPF cgroup_skb egress program, naming the sending pod (Linux >= 5.8, any datapath).",
  configSchema: cgroupConfigSchema,
  create: (settings, config, next) => new CgroupReceiver(settings, config, next),
};
