/**
 * What both kernel receivers do once their flow table is attached: every
 * `interval` drain it, add overflow, filter by CIDR, and hand the deltas on as
 * batches of columns (pipeline/columns.ts ColumnBatch) of one chunk each (at
 * most 16,384 flows), all with the interval's start and end; on shutdown detach first, then drain once more, so nothing
 * the kernel counted is lost. The receivers themselves (receivers/netfilter,
 * receivers/cgroup) only say how to open and attach their table (a KernelHook).
 */
import type { ComponentSettings, FlowConsumer, Receiver } from '../../pipeline/component.ts';
import { OVERFLOW_TRANSPORT, type FlowColumns, type IpFamily } from '../../pipeline/flow.ts';
import { ColumnBatch, keepRows, newColumns, transportCode } from '../../pipeline/columns.ts';
import { cidrContains, type Cidr } from '../../net/index.ts';
import { SPARE_ROWS, type DecodedChunk, type FlowTableKind, type KernelFlowTable, type OverflowCounters, type RawDrain, type SocketSourcesOptions } from '../../native/index.ts';
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
  /**
   * Called with each chunk of a drain before the CIDR filters (the cgroup
   * receiver names the sending pods): may replace ends (read-only objects)
   * and renumber rows, not add rows.
   */
  annotate?(chunk: DecodedChunk): void;
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
   * start and end: a chunk is decoded into columns only when the one before it
   * was consumed, and never into an object per flow (a consumer that reads
   * `records` makes those, one chunk at a time).
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
      const columns = chunk === undefined ? newColumns(SPARE_ROWS) : this.#decode(table, chunk);
      // Overflow counters not read stay in the kernel: a later drain reports them.
      if (i === last && overflow !== undefined) this.#addOverflow(columns, overflow);
      if (columns.length === 0) continue;
      const flows = columns.length;
      try {
        await this.#next.consume(new ColumnBatch(start, end, columns));
      } catch (err) {
        this.#settings.logger.warn({ err, records: flows }, 'next consumer rejected a flow batch');
      }
    }
  }

  /** One chunk's flows: decoded, named by the hook, filtered by CIDR. */
  #decode(table: KernelFlowTable, chunk: Uint8Array): FlowColumns {
    const decoded = table.decode(chunk);
    if (this.#hook.annotate) this.#afterDrain('name the sending pods', () => this.#hook.annotate!(decoded));
    this.#filter(decoded.columns);
    return decoded.columns;
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

  /**
   * Appends one overflow row per family with traffic in the drained
   * generation (into the SPARE_ROWS the decoder left): both ends one end with
   * address '', ports 0.
   */
  #addOverflow(columns: FlowColumns, overflow: Record<IpFamily, OverflowCounters>): void {
    const t = this.#telemetry;
    let unknown = -1;
    for (const [family, ipFamily] of (['ipv4', 'ipv6'] as const).entries()) {
      const { bytes, packets, failedInserts } = overflow[ipFamily];
      t.dropped.add(failedInserts, t.attributes);
      if (packets === 0) continue;
      t.overflowBytes.add(bytes, t.attributes);
      t.overflowPackets.add(packets, t.attributes);
      if (unknown < 0) unknown = columns.ends.push(Object.freeze({ address: '', port: 0 })) - 1;
      const i = columns.length++;
      columns.src[i] = unknown;
      columns.srcPort[i] = 0;
      columns.dst[i] = unknown;
      columns.dstPort[i] = 0;
      columns.transport[i] = transportCode(columns, OVERFLOW_TRANSPORT);
      columns.family[i] = family;
      columns.bytes[i] = bytes;
      columns.packets[i] = packets;
    }
  }

  /** Drops the rows include_cidrs / exclude_cidrs leave out; each end is matched once. */
  #filter(columns: FlowColumns): void {
    const { include_cidrs: include, exclude_cidrs: exclude } = this.#config;
    if (include.length === 0 && exclude.length === 0) return;
    // Per end: 1 in an included block, 2 in an excluded one.
    const match = new Uint8Array(columns.ends.length);
    const inAny = (blocks: readonly Cidr[], address: string) => blocks.some((c) => cidrContains(c, address));
    columns.ends.forEach(({ address }, e) => {
      match[e] = (inAny(include, address) ? 1 : 0) | (inAny(exclude, address) ? 2 : 0);
    });
    const keep = new Uint8Array(columns.length);
    for (let i = 0; i < columns.length; i++) {
      const touches = match[columns.src[i]!]! | match[columns.dst[i]!]!;
      keep[i] = (include.length === 0 || (touches & 1) !== 0) && (touches & 2) === 0 ? 1 : 0;
    }
    this.#telemetry.filtered.add(keepRows(columns, keep), this.#telemetry.attributes);
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
