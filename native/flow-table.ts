/**
 * The flow-table API both kernel receivers use: open (configure and load one
 * of the two eBPF objects), attach (a netfilter link per family, or a cgroup
 * link), drain (swap the double-buffered tables and read the retired one),
 * overflow, close. Opened, configured and undone on any error in that order.
 * bpf/README.md: why a drain neither loses nor double-counts a packet.
 */
import type { FlowRecord, IpFamily } from '../pipeline/flow.ts';
import { recordAt } from '../pipeline/columns.ts';
import { bpfError, nativeModule, type NativeFlowTable, type ProgramStats } from './addon.ts';
import { decodeColumns, RECORD_SIZE, sumOverflow, type DecodedChunk, type OverflowCounters } from './decode.ts';

export type FlowTableKind = 'netfilter' | 'cgroup';

/** Keys per lookup-and-delete syscall: bounds each call and its buffers. */
const DRAIN_BATCH = 4096;
/**
 * Records per chunk of a drain (1 MiB): what a receiver decodes into columns
 * and hands on at a time, so that a drain of 1M flows is never decoded at once.
 * The addon puts the flows of one address pair in one chunk (a hash of the
 * two addresses): every chunk is one batch, and a pair's flows rolled up in
 * one batch are one series update downstream, not one per chunk (1M flows
 * among 10,000 pod pairs in 62 chunks: 10,000 updates, not 620,000).
 */
export const DRAIN_CHUNK_RECORDS = 16_384;
/** Below NF_IP_PRI_NAT_SRC (100): the netfilter program sees pod addresses before source NAT. */
export const HOOK_PRIORITY = 50;

/**
 * With both receivers in one process (bpf/socket_sources.bpf.h): the cgroup
 * object records the sources it counts, the netfilter object skips them; both
 * use one map, created by the first and shared by the second.
 */
export interface SocketSourcesOptions {
  mode: 'record' | 'skip';
  /** Size of the shared map (LRU); only the first object's counts. */
  entries: number;
  /** The flow table whose map to use; absent for the first one. */
  shareWith?: KernelFlowTable;
  /** 'skip': the cgroup the cgroup receiver counts (its id); packets of its sockets in the netfilter hook's own namespace are skipped. */
  cgroupId?: number;
}

export interface FlowTableOptions {
  kind: FlowTableKind;
  /** Size of each of the two tables. */
  maxFlows: number;
  /** Netfilter: 8-byte header loads where the kernel allows them (default true); false forces one load per field. */
  wideHeaderLoads?: boolean;
  socketSources?: SocketSourcesOptions;
  /**
   * For tests only: false bypasses the per-CPU flow cache, so every packet goes
   * to the shared table and its insert race (two CPUs inserting one new flow)
   * happens often enough to test. Default true.
   */
  flowCache?: boolean;
  /**
   * For tests only: busy-wait this long between a flow's missed lookup and its
   * insert, widening the insert race's window. Default 0 (the code is dropped).
   */
  insertDelayNs?: number;
}

/**
 * One whole drain as records (tests and benchmarks; a receiver decodes chunk
 * by chunk into columns): the flows, and for the cgroup object each record's
 * sending cgroup id by index.
 */
export interface Drained {
  records: FlowRecord[];
  cgroupIds?: number[];
}

/**
 * One drain as the addon read it: chunks of at most DRAIN_CHUNK_RECORDS raw
 * records (decode.ts), each a Buffer over native memory freed once dropped.
 */
export interface RawDrain {
  chunks: Uint8Array[];
  /** Records in all chunks. */
  flows: number;
}

export class KernelFlowTable {
  readonly kind: FlowTableKind;
  readonly maxFlows: number;
  /** For SocketSourcesOptions.shareWith. */
  readonly native: NativeFlowTable;
  readonly #links: number[] = [];
  #closed = false;

  private constructor(kind: FlowTableKind, maxFlows: number, native: NativeFlowTable) {
    this.kind = kind;
    this.maxFlows = maxFlows;
    this.native = native;
  }

  /** Opens, configures and loads the object (nothing attached yet). */
  static open(options: FlowTableOptions): KernelFlowTable {
    const sources = options.socketSources;
    try {
      const native = new (nativeModule().FlowTable)(options.kind, {
        maxFlows: options.maxFlows,
        flowCache: options.flowCache ?? true,
        insertDelayNs: options.insertDelayNs ?? 0,
        wideHeaderLoads: options.wideHeaderLoads ?? true,
        socketSources: sources?.mode ?? 'off',
        socketSourcesEntries: sources?.entries ?? 1,
        skipCgroupId: sources?.mode === 'skip' ? (sources.cgroupId ?? 0) : 0,
        ...(sources?.shareWith ? { shareSocketSourcesWith: sources.shareWith.native } : {}),
      });
      return new KernelFlowTable(options.kind, options.maxFlows, native);
    } catch (err) {
      throw bpfError(`cannot load the ${options.kind} eBPF program (max_flows ${options.maxFlows})`, err);
    }
  }

  /** Netfilter: attaches at POSTROUTING for `family`, inside `netns` when given. */
  attachNetfilter(family: IpFamily, netns?: string): void {
    const where = netns ? `in network namespace ${netns}` : "in zonetap's network namespace";
    try {
      this.#links.push(this.native.attachNetfilter(family === 'ipv4' ? 4 : 6, HOOK_PRIORITY, netns));
    } catch (err) {
      throw bpfError(`cannot attach the ${family} netfilter hook ${where}`, err);
    }
  }

  /** Cgroup: attaches at egress of the cgroup v2 directory `path` (and every cgroup below it). */
  attachCgroup(path: string): void {
    try {
      this.#links.push(this.native.attachCgroup(path));
    } catch (err) {
      throw bpfError(`cannot attach to the cgroup ${path}`, err);
    }
  }

  /**
   * Swaps tables and drains the retired one: every packet counted before the
   * swap is in the result, every packet after it in the next drain.
   */
  async drain(): Promise<Drained> {
    const { chunks } = await this.drainRaw();
    const drained: Drained = { records: [], ...(this.kind === 'cgroup' ? { cgroupIds: [] } : {}) };
    for (const chunk of chunks) {
      const { columns, endCgroups } = this.decode(chunk);
      for (let i = 0; i < columns.length; i++) {
        drained.records.push(recordAt(columns, i));
        if (endCgroups) drained.cgroupIds!.push(endCgroups[columns.src[i]!]!);
      }
    }
    return drained;
  }

  /** As drain(), undecoded: a receiver decodes and hands on one chunk at a time. */
  async drainRaw(): Promise<RawDrain> {
    const chunks = await this.native.drain(DRAIN_BATCH, DRAIN_CHUNK_RECORDS).catch((err: unknown) => {
      throw bpfError('cannot drain the flow table', err);
    });
    let bytes = 0;
    for (const c of chunks) bytes += c.byteLength;
    return { chunks, flows: bytes / RECORD_SIZE };
  }

  /** One chunk of drainRaw() as columns (with the sources' cgroups for the cgroup object). */
  decode(chunk: Uint8Array): DecodedChunk {
    return decodeColumns(chunk, this.kind === 'cgroup');
  }

  /**
   * The overflow counters of the generation the last drain retired, then
   * zeroed: traffic whose flow found the table full. Not read, they stay and a
   * later call reports them.
   */
  overflow(): Record<IpFamily, OverflowCounters> {
    const raw = this.native.overflow();
    const half = raw.byteLength / 2;
    return { ipv4: sumOverflow(raw.subarray(0, half)), ipv6: sumOverflow(raw.subarray(half)) };
  }

  /** The programs' ids and run statistics. */
  programs(): ProgramStats[] {
    return this.native.programs();
  }

  /** Kernel ids of the maps, by name (for bpftool). */
  mapIds(): Record<string, number> {
    return this.native.mapIds();
  }

  /** Closes the links: the hooks are gone when this returns; the tables stay readable. */
  detach(): void {
    for (const fd of this.#links.splice(0)) this.native.detach(fd);
  }

  /** Detaches and frees everything. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#links.length = 0;
    this.native.close();
  }
}
