export { flowlogExporterFactory } from './factory.ts';
export { flowlogConfigSchema, type FlowlogConfig } from './config.ts';
export { FlowlogExporter } from './exporter.ts';
export { flowLogTime, formatFlowLogLine } from './format.ts';
export { parseFlowLog, readFlowLog, type DamagedLine, type FlowLog } from './reader.ts';
export { observedFromFlowLog, type FlowLogTraffic } from './traffic.ts';
