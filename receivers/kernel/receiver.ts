/**
 * What both kernel receivers do once their flow table is attached: every
 * `interval` drain it, add overflow, filter by CIDR, and hand the deltas on as
 * FlowBatches of one chunk each (at most 16,384 records), all with the
 * interval's start and end; on shutdown detach first, then drain once more, so nothing
 * the kernel counted is lost. The receivers themselves (receivers/netfilter,
 * receivers/cgroup) only say how to open and attach their table (a KernelHook).
 */
import type { ComponentSettings, FlowConsumer, Receiver } from '../../pipeline/component.ts';
import { OVERFLOW_TRANSPORT, type FlowRecord, type IpFamily } from '../../pipeline/flow.ts';
import { cidrContains, type Cidr } from '../../net/index.ts';
import type { Drained, FlowTableKind, KernelFlowTable, OverflowCounters, RawDrain, SocketSourcesOptions } from '../../native/index.ts';
import type { KernelFlowsConfig } from './config.ts';
import { declareKernelReceiver, sharingClosed, sharingOpened, socketSourcesFor } from './socket-sources.ts';
import { KernelTelemetry } from './telemetry.ts';

/** How a receiver opens its flow table, and what it adds to each drain. */
export interface KernelHook {
  readonly kind: FlowTableKind;
  /**
   * Checks the kernel, opens the flow table (sharing socket sources when
   * `sharing` is given) and attaches it; undoes what it did and throws a
   * ZonetapError (ZT_BPF) on failure. Returns the table and the one start-up
   * log line: where it counts, which code path runs and why.
   */
  open(sharing: SocketSourcesOptions | undefined): { table: KernelFlowTable; message: string; fields: Record<string, unknown> };
  /** Called once per drain, before its chunks are annotated (the cgroup receiver walks its cgroups). */
  prepare?(): void;
  /** Called with each chunk of a drain before the CIDR filters (the cgroup receiver names the sending pods). */
  annotate?(drained: Drained): void;
  /** The cgroup receiver: the id of the cgroup it attaches to (for a netfilter receiver beside it). */
  cgroupId?(): number;
}

const EMPTY = new Uint8Array(0);

export class KernelReceiver implements Receiver {
  readonly #settings: ComponentSettings;
  readonly #config: Readonly<KernelFlowsConfig>;
  readonly #next: FlowConsumer;
  readonly #hook: KernelHook;
  readonly #telemetry: KernelTelemetry;
  #table: KernelFlowTable | undefined;
  #sharing = false;
  #timer: NodeJS.Timeout | undefined;
  #draining: Promise<void> | undefined;
  #stopping = false;
  #lastDrain = 0;

  constructor(settings: ComponentSettings, config: KernelFlowsConfig, next: FlowConsumer, hook: KernelHook) {
    this.#settings = settings;
    this.#config = Object.freeze({ ...config });
    this.#next = next;
    this.#hook = hook;
    this.#telemetry = new KernelTelemetry(settings);
    declareKernelReceiver(hook.kind, hook.cgroupId?.bind(hook));
  }

  /** Kernel ids of the attached programs while started, for `bpftool prog show id N`. */
  get programIds(): number[] {
    return this.#table?.programs().map((p) => p.id) ?? [];
  }

  /** The flow table while started (tests read its map ids). */
  get table(): KernelFlowTable | undefined {
    return this.#table;
  }

  async start(): Promise<void> {
    const sharing = socketSourcesFor(this.#hook.kind, this.#config.max_flows);
    const { table, message, fields } = this.#hook.open(sharing);
    this.#table = table;
    this.#sharing = sharing !== undefined;
    if (this.#sharing) sharingOpened(table);
    this.#lastDrain = Date.now();
    this.#settings.logger.info({ ...fields, max_flows: this.#config.max_flows, interval_ms: this.#config.interval }, message);
    this.#schedule();
  }

  #schedule(): void {
    this.#timer = setTimeout(() => {
      this.#draining = this.#drain()
        .catch((err: unknown) => this.#settings.logger.error({ err }, DRAIN_FAILED))
        .finally(() => {
          this.#draining = undefined;
          if (!this.#stopping) this.#schedule();
        });
    }, this.#config.interval);
  }

  /**
   * One drain: swap tables, read them, add overflow, and hand the flows on as
   * batches of one chunk each (native/flow-table.ts), all with the interval's
   * start and end: a chunk is decoded only when the one before it was
   * consumed, so at most one chunk of records exists as objects at a time.
   */
  async #drain(): Promise<void> {
    const table = this.#table;
    if (!table) return;
    const t = this.#telemetry;
    const started = performance.now();
    const end = Date.now();
    let raw: RawDrain;
    try {
      raw = await table.drainRaw();
    } catch (err) {
      t.drainFailures.add(1, t.attributes);
      throw err;
    }
    // From here on nothing may discard the drained flows: they are out of the
    // kernel. A step that fails is logged and counted, and the batches still go on.
    const overflow = this.#afterDrain('read overflow counters', () => table.overflow());
    t.drainSeconds.record((performance.now() - started) / 1000, t.attributes);
    t.flowsPerDrain.record(raw.flows, t.attributes);
    t.fillRatio = raw.flows / this.#config.max_flows;
    this.#afterDrain('read program stats', () => t.readProgramStats(() => table.programs()));
    if (this.#hook.prepare) this.#afterDrain('name the sending pods', () => this.#hook.prepare!());

    const start = this.#lastDrain;
    this.#lastDrain = end;
    const { chunks } = raw;
    const last = Math.max(chunks.length, 1) - 1;
    for (let i = 0; i <= last; i++) {
      const chunk = chunks[i];
      // Dropped as soon as it is decoded: its native memory is freed while later chunks go on.
      if (chunk !== undefined) chunks[i] = EMPTY;
      const records = chunk === undefined ? [] : this.#decode(table, chunk);
      // Overflow counters not read stay in the kernel: a later drain reports them.
      if (i === last && overflow !== undefined) this.#addOverflow(records, overflow);
      if (records.length === 0) continue;
      try {
        await this.#next.consume({ start, end, records });
      } catch (err) {
        this.#settings.logger.warn({ err, records: records.length }, 'next consumer rejected a flow batch');
      }
    }
  }

  /** One chunk's records: decoded, named by the hook, filtered by CIDR. */
  #decode(table: KernelFlowTable, chunk: Uint8Array): FlowRecord[] {
    const drained = table.decode(chunk);
    if (this.#hook.annotate) this.#afterDrain('name the sending pods', () => this.#hook.annotate!(drained));
    return this.#filter(drained.records);
  }

  /** `step`'s result, or undefined (logged and counted) if it throws. */
  #afterDrain<T>(what: string, step: () => T): T | undefined {
    try {
      return step();
    } catch (err) {
      this.#telemetry.statsErrors.add(1, this.#telemetry.attributes);
      this.#settings.logger.warn({ err }, `cannot ${what} after a drain; the drained flows are still handed on`);
      return undefined;
    }
  }

  /** Appends one overflow record per family with traffic in the drained generation. */
  #addOverflow(records: FlowRecord[], overflow: Record<IpFamily, OverflowCounters>): void {
    const t = this.#telemetry;
    for (const ipFamily of ['ipv4', 'ipv6'] as const) {
      const { bytes, packets, failedInserts } = overflow[ipFamily];
      t.dropped.add(failedInserts, t.attributes);
      if (packets === 0) continue;
      t.overflowBytes.add(bytes, t.attributes);
      t.overflowPackets.add(packets, t.attributes);
      records.push({ src: { address: '', port: 0 }, dst: { address: '', port: 0 }, transport: OVERFLOW_TRANSPORT, ipFamily, bytes, packets });
    }
  }

  #filter(flows: FlowRecord[]): FlowRecord[] {
    const { include_cidrs: include, exclude_cidrs: exclude } = this.#config;
    if (include.length === 0 && exclude.length === 0) return flows;
    const touches = (blocks: readonly Cidr[], r: FlowRecord) =>
      blocks.some((c) => cidrContains(c, r.src.address) || cidrContains(c, r.dst.address));
    const kept = flows.filter((r) => (include.length === 0 || touches(include, r)) && !touches(exclude, r));
    this.#telemetry.filtered.add(flows.length - kept.length, this.#telemetry.attributes);
    return kept;
  }

  async shutdown(): Promise<void> {
    this.#stopping = true;
    clearTimeout(this.#timer);
    await this.#draining;
    const table = this.#table;
    if (!table) return;
    try {
      table.detach();
      await this.#drain();
    } catch (err) {
      this.#settings.logger.error({ err }, `final ${DRAIN_FAILED}`);
    } finally {
      if (this.#sharing) sharingClosed(table);
      table.close();
      this.#table = undefined;
    }
  }
}

/**
 * What a failed drain means (native/src/drain.cc): a failure before the table
 * swap leaves every flow in the kernel; after it, the flows already read
 * (lookup-and-delete) are gone, and the unread rest stays in the retired
 * table, which the next drain but one reads again.
 */
const DRAIN_FAILED =
  'drain failed; if it failed after the table swap, the flows read before the failure are lost (the unread rest is read by a later drain); counted in zonetap_receiver_drain_failures_total';
