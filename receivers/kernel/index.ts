export { kernelFlowsConfigShape, type KernelFlowsConfig } from './config.ts';
export { KernelReceiver, type KernelHook } from './receiver.ts';
