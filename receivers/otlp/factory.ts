import type { ReceiverFactory } from '../../pipeline/component.ts';
import { otlpReceiverConfigSchema, type OtlpReceiverConfig } from './config.ts';
import { OtlpReceiver } from './receiver.ts';

export const otlpReceiverFactory: ReceiverFactory<OtlpReceiverConfig> = {
  kind: 'receiver',
  type: 'otlp',
  stability: 'alpha',
  description: 'OTLP/gRPC metrics endpoint that turns agents\' cumulative flow totals back into flow records (the gateway)',
  configSchema: otlpReceiverConfigSchema,
  create: (settings, config, next) => new OtlpReceiver(settings, config, next),
};
