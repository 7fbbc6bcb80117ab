import type { ReceiverFactory } from '../../pipeline/component.ts';
import { otlpReceiverConfigSchema, type OtlpReceiverConfig } from './config.ts';
import { OtlpReceiver } from './receiver.ts';

export const otlpReceiverFactory: ReceiverFactory<OtlpReceiverConfig> = {
  kind: 'receiver',
  type: 'otlp',
  stability: 'alpha',
  description: 'OTLP metrics endpoint (gRPC and HTTP) that turns agents\' flow counts back into flow records, each byte once (the gateway)',
  configSchema: otlpReceiverConfigSchema,
  create: (settings, config, next) => new OtlpReceiver(settings, config, next),
};
