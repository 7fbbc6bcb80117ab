/**
 * The kernel side of the receiver: bpf/flows.bpf.o opened, sized, loaded and
 * attached at POSTROUTING through the native addon, and its double-buffered
 * flow table drained. See bpf/README.md for why a drain never loses or
 * double-counts a packet.
 */
import type { FlowRecord, IpFamily } from '../../pipeline/flow.ts';
import {
  FLOWS_OBJECT_PATH,
  NFPROTO_IPV4,
  NFPROTO_IPV6,
  bpfError,
  nativeModule,
  openBpfObject,
  type BpfObject,
} from '../../native/index.ts';
import { decodeFlows, sumOverflow, type OverflowCounters } from './decode.ts';

/** One program per family (each holds only its own parsing). */
const PROGRAMS: Record<IpFamily, string> = { ipv4: 'count_ipv4', ipv6: 'count_ipv6' };
const TABLES = ['flows_a', 'flows_b'] as const;
/** Every CPU's two flow cache generations, in one array, and the generation the programs write. */
const CACHE = 'flow_cache';
const CACHE_GENERATION = 'cache_generation';
const OVERFLOW = 'overflow';
/** Keys per lookup-and-delete syscall: bounds each call and the buffers. */
const DRAIN_BATCH = 4096;
/** Below NF_IP_PRI_NAT_SRC (100): the program sees pod addresses before source NAT. */
export const HOOK_PRIORITY = 50;

/**
 * Before load: room in the flow cache array for two generations of every
 * possible CPU (without it CPUs past the first count straight into the table:
 * correct, only slower). Also used by bench/bpf.bench.ts.
 */
export function sizeFlowCache(object: BpfObject): void {
  object.setMaxEntries(CACHE, 2 * object.mapInfo(CACHE).possibleCpus * nativeModule().flowCacheSlots);
}

export interface FlowTableOptions {
  maxFlows: number;
  families: readonly IpFamily[];
  /** Network namespace path to attach in; zonetap's own namespace when absent. */
  netns?: string;
  objectPath?: string;
  /**
   * Read IPv4 headers with three 8-byte loads where the kernel allows it
   * (default true); false forces one load per field, the path older kernels take.
   */
  wideHeaderLoads?: boolean;
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

export class KernelFlowTable {
  readonly #object: BpfObject;
  readonly #links: number[] = [];
  readonly #families: readonly IpFamily[];
  /** Index in TABLES and cache generation the programs write now (the object starts with flows_a and generation 0). */
  #active = 0;
  #closed = false;

  private constructor(object: BpfObject, families: readonly IpFamily[]) {
    this.#object = object;
    this.#families = families;
  }

  /** Opens, sizes, loads and attaches: open -> configure -> load -> attach, undone on any error. */
  static open(options: FlowTableOptions): KernelFlowTable {
    const object = openBpfObject(options.objectPath ?? FLOWS_OBJECT_PATH);
    const table = new KernelFlowTable(object, options.families);
    try {
      try {
        for (const name of TABLES) object.setMaxEntries(name, options.maxFlows);
        sizeFlowCache(object);
        object.setConst('wide_header_loads', options.wideHeaderLoads === false ? 0 : 1);
        object.setConst('use_flow_cache', options.flowCache === false ? 0 : 1);
        object.setConst('insert_delay_ns', options.insertDelayNs ?? 0);
      } catch (err) {
        throw bpfError(`cannot configure the eBPF object (max_flows ${options.maxFlows})`, err);
      }
      try {
        object.load();
      } catch (err) {
        throw bpfError('cannot load the eBPF program', err);
      }
      for (const family of options.families) {
        const pf = family === 'ipv4' ? NFPROTO_IPV4 : NFPROTO_IPV6;
        const where = options.netns ? `in network namespace ${options.netns}` : 'in zonetap\'s network namespace';
        try {
          table.#links.push(object.attachNetfilter(PROGRAMS[family], pf, HOOK_PRIORITY, options.netns));
        } catch (err) {
          throw bpfError(`cannot attach the ${family} netfilter hook ${where}`, err);
        }
      }
    } catch (err) {
      table.close();
      throw err;
    }
    return table;
  }

  /** Size of each of the two tables. */
  get maxFlows(): number {
    return this.#object.mapInfo(TABLES[0]).maxEntries;
  }

  /**
   * Swaps tables and drains the retired one: every packet counted before the
   * swap is in the result, every packet after it in the next drain.
   */
  async drain(): Promise<FlowRecord[]> {
    const now = this.#active;
    const next = 1 - now;
    const raw = await this.#object
      .swapAndDrain({ cache: { map: CACHE, generation: CACHE_GENERATION, next: next as 0 | 1 }, tables: ['active_flows', TABLES[next]!, TABLES[now]!], batchSize: DRAIN_BATCH })
      .catch((err: unknown) => {
        throw bpfError('cannot drain the flow table', err);
      });
    this.#active = next;
    return decodeFlows(raw);
  }

  /** Monotonic overflow counters per family since load. */
  overflow(): Record<IpFamily, OverflowCounters> {
    return {
      ipv4: sumOverflow(this.#object.readPerCpu(OVERFLOW, 0)),
      ipv6: sumOverflow(this.#object.readPerCpu(OVERFLOW, 1)),
    };
  }

  /** Inserts that found their flow inserted by another CPU first, since load (the race path; for tests). */
  insertRaces(): number {
    const perCpu = this.#object.readPerCpu('insert_races', 0);
    let sum = 0n;
    for (let off = 0; off + 8 <= perCpu.length; off += 8) sum += perCpu.readBigUInt64LE(off);
    return Number(sum);
  }

  /** The attached programs' ids and run statistics, summed over families. */
  programInfo(): { ids: number[]; runCnt: bigint; runTimeNs: bigint } {
    const infos = this.#families.map((f) => this.#object.programInfo(PROGRAMS[f]));
    return {
      ids: infos.map((i) => i.id),
      runCnt: infos.reduce((n, i) => n + i.runCnt, 0n),
      runTimeNs: infos.reduce((n, i) => n + i.runTimeNs, 0n),
    };
  }

  /** Closes the links: the hooks are gone when this returns; the tables stay readable. */
  detach(): void {
    for (const fd of this.#links.splice(0)) this.#object.detach(fd);
  }

  /** Detaches and frees everything. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#links.length = 0;
    this.#object.close();
  }
}
