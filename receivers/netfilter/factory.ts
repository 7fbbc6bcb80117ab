import type { ReceiverFactory } from '../../pipeline/component.ts';
import { netfilterConfigSchema, type NetfilterConfig } from './config.ts';
import { NetfilterReceiver } from './receiver.ts';

export const netfilterReceiverFactory: ReceiverFactory<NetfilterConfig> = {
  kind: 'receiver',
  type: 'netfilter',
  stability: 'alpha',
  description: 'Counts bytes and packets per flow with an eBPF program on the netfilter POSTROUTING hook (Linux >= 6.4).',
  configSchema: netfilterConfigSchema,
  create: (settings, config, next) => new NetfilterReceiver(settings, config, next),
};
