export { replayReceiverFactory } from './factory.ts';
export { replayConfigSchema, type ReplayConfig } from './config.ts';
export { ReplayReceiver } from './receiver.ts';
