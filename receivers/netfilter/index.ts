export { netfilterReceiverFactory } from './factory.ts';
export { netfilterConfigSchema, type NetfilterConfig } from './config.ts';
export { NetfilterReceiver, OVERFLOW_TRANSPORT } from './receiver.ts';
