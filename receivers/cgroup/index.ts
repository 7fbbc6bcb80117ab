export { cgroupReceiverFactory } from './factory.ts';
export { cgroupConfigSchema, type CgroupConfig } from './config.ts';
export { CgroupReceiver } from './receiver.ts';
export { podUidOf } from './kubelet.ts';
export { cgroup2Mounts } from './hierarchy.ts';
