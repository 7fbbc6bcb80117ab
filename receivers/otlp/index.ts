export { otlpReceiverFactory } from './factory.ts';
export { OtlpReceiver, type OtlpReceiverCounts } from './receiver.ts';
export { otlpReceiverConfigSchema, type OtlpReceiverConfig } from './config.ts';
export { FlowStreams, FLOW_METRICS, type IngestStats } from './streams.ts';
export { decodeRequest, decodeExportResponse, decodeStatus, EXPORT_PATH } from './proto.ts';
export { decodeJsonRequest } from './json.ts';
