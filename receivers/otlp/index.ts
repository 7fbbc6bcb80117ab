export { otlpReceiverFactory } from './factory.ts';
export { OtlpReceiver, EXPORT_PATH, type OtlpReceiverCounts } from './receiver.ts';
export { otlpReceiverConfigSchema, type OtlpReceiverConfig } from './config.ts';
export { FlowStreams, FLOW_METRICS, type IngestStats } from './streams.ts';
export { decodeRequest, decodeExportResponse, decodeStatus } from './proto.ts';
export { decodeJsonRequest } from './json.ts';
