import type { ReceiverFactory } from '../../pipeline/component.ts';
import { replayConfigSchema, type ReplayConfig } from './config.ts';
import { ReplayReceiver } from './receiver.ts';

export const replayReceiverFactory: ReceiverFactory<ReplayConfig> = {
  kind: 'receiver',
  type: 'replay',
  stability: 'beta',
  description: 'Replays flow log lines (the flowlog exporter format) as batches, one recorded interval per `interval`.',
  configSchema: replayConfigSchema,
  create: (settings, config, next) => new ReplayReceiver(settings, config, next),
};
