/**
 * The kernel module's user-space face: the native addon's typed surface and
 * the translation of its errors into ZonetapErrors that say what to do
 * (addon.ts), the flow-table API both kernel receivers use (flow-table.ts),
 * the drained records' decoding (decode.ts) and what the running kernel
 * offers (kernel.ts). The addon is thin: it makes the syscalls; wording and
 * decisions live here. See README.md.
 */
export { ADDON_PATH, bpfError, nativeModule, openProgramFile, type NativeError, type ProgramFile, type ProgramStats } from './addon.ts';
export { KernelFlowTable, HOOK_PRIORITY, DRAIN_CHUNK_RECORDS, type Drained, type RawDrain, type FlowTableKind, type FlowTableOptions, type SocketSourcesOptions } from './flow-table.ts';
export { decodeColumns, sumOverflow, transportName, ipv6, KEY_SIZE, RECORD_SIZE, SPARE_ROWS, type DecodedChunk, type OverflowCounters } from './decode.ts';
export { kernelRelease, kernelVersion, netfilterPath, requireKernel, type KernelPath } from './kernel.ts';
