export { netfilterReceiverFactory } from './factory.ts';
export { netfilterConfigSchema, type NetfilterConfig } from './config.ts';
export { NetfilterReceiver, OVERFLOW_TRANSPORT } from './receiver.ts';
export { KernelFlowTable, HOOK_PRIORITY, type FlowTableOptions } from './flow-table.ts';
export { decodeFlows, sumOverflow, transportName, RECORD_SIZE, type OverflowCounters } from './decode.ts';
